//! JSON logs for CloudWatch. Each line carries its spans: the outermost is lambda_runtime's
//! `Lambda runtime invoke` with `requestId` and `xrayTraceId`, so every line — including those
//! inside handler and query spans — can be found from a request id or a trace
//! (Logs Insights: `filter spans.0.requestId = "…"`).

pub mod metrics;

use settings::Env;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the JSON subscriber on stdout, filtered by [`log_filter`] from `env`'s `RUST_LOG`
/// and `AWS_LAMBDA_LOG_LEVEL`.
pub fn init(env: &impl Env) {
    install(
        std::io::stdout,
        env.optional("RUST_LOG").as_deref(),
        env.optional(LAMBDA_LOG_LEVEL).as_deref(),
    );
}

/// The same JSON subscriber writing to `writer`, filtered by `rust_log` alone (tests read what
/// production would log, at `trace`, without touching the process environment).
pub fn init_with_writer_and_filter<W>(writer: W, rust_log: Option<&str>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(writer, rust_log, None);
}

fn install<W>(writer: W, rust_log: Option<&str>, lambda_level: Option<&str>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = log_filter(rust_log, lambda_level);
    let json = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer);
    let _ = tracing_subscriber::registry()
        .with(json.with_filter(filter))
        .try_init();
    // Says, when TRACE is on, that it is and what is capped (a test reads it to know it is).
    tracing::trace!(
        rust_log = rust_log.unwrap_or(""),
        lambda_level = lambda_level.unwrap_or(""),
        "logging at TRACE; the credential carriers at INFO at most"
    );
}

/// The variable Lambda's advanced logging controls set to the function's application log level
/// (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) when one is configured; Lambda then
/// drops every JSON line whose `level` is below it
/// (<https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html>).
pub const LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";

/// The log filter, from `RUST_LOG` (`target=level` directives: `info`, `info,lapin=warn`) and
/// `AWS_LAMBDA_LOG_LEVEL`. Precedence:
/// - `AWS_LAMBDA_LOG_LEVEL`, when set and valid, is the level: what the operator chose in the
///   function's logging configuration, and what Lambda keeps anyway. `RUST_LOG`'s per-target
///   directives still apply where they are stricter (`lapin=warn` stays quiet under `DEBUG`),
///   never where they are more verbose (Lambda would drop those lines after we paid for them).
/// - Otherwise `RUST_LOG`; `info` when it is unset or invalid.
///
/// A plain target filter rather than `EnvFilter`: the functions never filter on span fields,
/// and `EnvFilter` links a regex engine (about 100 KB of each zip, `make bench`) and matches
/// every span against it.
pub fn log_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> Targets {
    cap_credential_carriers(requested_filter(rust_log, lambda_level))
}

/// Crates whose lines below INFO carry credentials, logged at INFO and above whatever level is
/// asked for: `lambda_runtime` logs each invocation's raw event at TRACE (a caller's
/// `authorization` and `x-origin-verify` headers); the AWS SDK's runtime logs requests and
/// responses (the session token, `GetSecretValue`'s secret); lapin and amq-protocol log AMQP
/// frames (the broker password in `Connection.StartOk`); tokio-postgres logs statements
/// (setup's role passwords); hyper, h2 and reqwest log headers.
pub const CREDENTIAL_CARRIERS: [&str; 18] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "lapin",
    "amq_protocol",
    "tokio_postgres",
    "postgres_protocol",
    "hyper",
    "hyper_util",
    "h2",
    "reqwest",
];

/// `filter` with every [`CREDENTIAL_CARRIERS`] target (and every directive under one of them)
/// at INFO at most.
fn cap_credential_carriers(filter: Targets) -> Targets {
    let carried = |target: &str| {
        CREDENTIAL_CARRIERS
            .iter()
            .any(|c| target == *c || target.strip_prefix(c).is_some_and(|r| r.starts_with("::")))
    };
    let mut capped = match filter.default_level() {
        Some(level) => Targets::new().with_default(level),
        None => Targets::new(),
    };
    for (target, level) in filter.iter() {
        let level = if carried(target) {
            level.min(LevelFilter::INFO)
        } else {
            level
        };
        capped = capped.with_target(target, level);
    }
    for target in CREDENTIAL_CARRIERS {
        let level = [
            tracing::Level::TRACE,
            tracing::Level::DEBUG,
            tracing::Level::INFO,
            tracing::Level::WARN,
            tracing::Level::ERROR,
        ]
        .into_iter()
        .find(|l| filter.would_enable(target, l))
        .map_or(LevelFilter::OFF, LevelFilter::from_level);
        capped = capped.with_target(target, level.min(LevelFilter::INFO));
    }
    capped
}

/// The filter as `RUST_LOG` and `AWS_LAMBDA_LOG_LEVEL` ask for it (see [`log_filter`]).
fn requested_filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> Targets {
    let rust_log = rust_log
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .and_then(|r| r.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let Some(level) = lambda_level.and_then(lambda_level_filter) else {
        return rust_log;
    };
    rust_log
        .iter()
        .fold(Targets::new().with_default(level), |t, (target, l)| {
            t.with_target(target, l.min(level))
        })
}

/// Lambda's level names; `FATAL` is `ERROR` (tracing has nothing above it).
fn lambda_level_filter(raw: &str) -> Option<LevelFilter> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "TRACE" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        _ => None,
    }
}

/// Tests stay quiet unless `TEST_LOG` is set.
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
        let f = log_filter(Some("info,lapin=warn"), None);
        assert!(f.would_enable("inventory::repo", &Level::INFO));
        assert!(!f.would_enable("inventory::repo", &Level::DEBUG));
        assert!(!f.would_enable("lapin::channel", &Level::INFO));
        assert!(f.would_enable("lapin::channel", &Level::WARN));
        for unset in [None, Some(""), Some("not a filter ==")] {
            let f = log_filter(unset, None);
            assert!(f.would_enable("x", &Level::INFO), "{unset:?}");
            assert!(!f.would_enable("x", &Level::DEBUG), "{unset:?}");
        }
        assert!(log_filter(Some("debug"), None).would_enable("x", &Level::DEBUG));
    }

    #[test]
    fn credential_carriers_never_log_below_info() {
        for (rust_log, lambda) in [
            (Some("trace"), None),
            (None, Some("TRACE")),
            (Some("trace,lambda_runtime=trace"), Some("TRACE")),
            (Some("lambda_runtime::layers::api_response=trace"), None),
            (Some("aws_smithy_runtime::client=trace,lapin=debug"), None),
        ] {
            let f = log_filter(rust_log, lambda);
            let everything_on = f.would_enable("anything::else", &Level::TRACE);
            for target in [
                "lambda_runtime::layers::api_response",
                "aws_smithy_runtime::client::orchestrator",
                "lapin::channel",
                "tokio_postgres::query",
                "hyper::proto::h1::role",
            ] {
                assert!(
                    !f.would_enable(target, &Level::DEBUG),
                    "{rust_log:?} {target}"
                );
                // What a directive for the crate itself allows, or the default.
                if everything_on
                    || rust_log.is_some_and(|r| r.contains(target.split("::").next().unwrap_or("")))
                {
                    assert!(
                        f.would_enable(target, &Level::INFO),
                        "{rust_log:?} {target}"
                    );
                }
            }
        }
        // Our own code keeps the level asked for.
        assert!(log_filter(Some("trace"), None).would_enable("billing::amqp", &Level::TRACE));
        assert!(log_filter(None, Some("TRACE")).would_enable("inventory::repo", &Level::TRACE));
        // A stricter choice stays stricter.
        let f = log_filter(Some("info,lapin=warn"), None);
        assert!(!f.would_enable("lapin::channel", &Level::INFO));
        assert!(!f.would_enable("lambda_runtime", &Level::DEBUG));
    }

    #[test]
    fn aws_lambda_log_level_sets_the_level_and_rust_log_only_narrows_targets() {
        // Lambda's level wins over RUST_LOG's default, either way.
        let f = log_filter(Some("info"), Some("DEBUG"));
        assert!(f.would_enable("x", &Level::DEBUG));
        assert!(!f.would_enable("x", &Level::TRACE));
        let f = log_filter(Some("debug"), Some("WARN"));
        assert!(!f.would_enable("x", &Level::INFO));
        assert!(f.would_enable("x", &Level::WARN));
        // A stricter target directive stays; a more verbose one is capped.
        let f = log_filter(Some("info,lapin=warn,billing=trace"), Some("DEBUG"));
        assert!(!f.would_enable("lapin::channel", &Level::INFO));
        assert!(f.would_enable("lapin::channel", &Level::WARN));
        assert!(f.would_enable("billing::amqp", &Level::DEBUG));
        assert!(!f.would_enable("billing::amqp", &Level::TRACE));
        // Without RUST_LOG; FATAL is ERROR; any case.
        assert!(log_filter(None, Some("trace")).would_enable("x", &Level::TRACE));
        let f = log_filter(None, Some("FATAL"));
        assert!(f.would_enable("x", &Level::ERROR));
        assert!(!f.would_enable("x", &Level::WARN));
        // Unset or unknown: RUST_LOG alone.
        for ignored in [None, Some(""), Some("VERBOSE")] {
            let f = log_filter(Some("warn"), ignored);
            assert!(!f.would_enable("x", &Level::INFO), "{ignored:?}");
            assert!(f.would_enable("x", &Level::WARN), "{ignored:?}");
        }
    }
}
