//! JSON logs for CloudWatch. Each line carries its spans: the outermost is lambda_runtime's
//! `Lambda runtime invoke` with `requestId` and `xrayTraceId`, so every line — including those
//! inside handler and query spans — can be found from a request id or a trace
//! (Logs Insights: `filter spans.0.requestId = "…"`).

#[cfg(any(test, feature = "test-util"))]
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber on stdout; `RUST_LOG` filters (default `info`).
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// The same JSON subscriber writing to `writer` (tests read what production would log).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    init_with_writer_and_filter(writer, std::env::var("RUST_LOG").ok().as_deref());
}

/// As [`init_with_writer`], with `rust_log` instead of the `RUST_LOG` variable (tests log at
/// `trace` without touching the process environment).
pub fn init_with_writer_and_filter<W>(writer: W, rust_log: Option<&str>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer);
    let filter = log_filter(rust_log);
    let _ = tracing_subscriber::registry()
        .with(json.with_filter(filter))
        .try_init();
}

/// `RUST_LOG` as `target=level` directives (`info`, `info,lapin=warn`); `info` when unset or
/// invalid. A plain target filter rather than `EnvFilter`: the functions never filter on span
/// fields, and `EnvFilter` links a regex engine (about 100 KB of each zip, `make bench`) and
/// matches every span against it.
pub fn log_filter(raw: Option<&str>) -> Targets {
    raw.map(str::trim)
        .filter(|r| !r.is_empty())
        .and_then(|r| r.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO))
}

/// Tests stay quiet unless `TEST_LOG` is set. Only in test builds (`test-util`).
#[cfg(any(test, feature = "test-util"))]
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug")),
            )
            .with_test_writer()
            .try_init();
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn rust_log_directives_filter_by_target_and_default_to_info() {
        let f = log_filter(Some("info,lapin=warn"));
        assert!(f.would_enable("inventory::repo", &Level::INFO));
        assert!(!f.would_enable("inventory::repo", &Level::DEBUG));
        assert!(!f.would_enable("lapin::channel", &Level::INFO));
        assert!(f.would_enable("lapin::channel", &Level::WARN));
        for unset in [None, Some(""), Some("not a filter ==")] {
            let f = log_filter(unset);
            assert!(f.would_enable("x", &Level::INFO), "{unset:?}");
            assert!(!f.would_enable("x", &Level::DEBUG), "{unset:?}");
        }
        assert!(log_filter(Some("debug")).would_enable("x", &Level::DEBUG));
    }
}
