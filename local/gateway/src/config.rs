//! The gateway's configuration file (`local/gateway.yaml`): like a SAM template, it names the
//! functions, their bootstraps and environment, the authorizer and the event source mappings.
//! `${VAR}` and `${VAR:-default}` are replaced from the environment before parsing, so the file
//! holds no machine-specific values.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::authorizer::AuthorizerConfig;
use crate::esm::EsmConfig;
use crate::lambda::FunctionConfig;
use crate::watch::WatchConfig;
use crate::web::WebConfig;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Port 0 picks a free port; [`crate::RunningGateway::addr`] tells which.
    pub listen: SocketAddr,
    pub openapi: PathBuf,
    pub api_id: String,
    pub authorizer: AuthorizerConfig,
    pub functions: Vec<FunctionConfig>,
    pub event_source_mappings: Vec<EsmConfig>,
    /// `Some`: the functions run from their debug builds, rebuilt on save
    /// ([`crate::watch`]), not from the `bootstrap`s configured.
    pub watch: Option<WatchConfig>,
    /// `Some`: the web client and the local managed login on the gateway's origin.
    pub web: Option<WebConfig>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is not set (the gateway config uses it)")]
    MissingVar(String),
    #[error("parsing the gateway config: {0}")]
    Parse(#[from] serde_norway::Error),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: String,
    openapi: PathBuf,
    #[serde(default = "default_api_id")]
    api_id: String,
    authorizer: AuthorizerFile,
    functions: BTreeMap<String, FunctionFile>,
    #[serde(default)]
    event_source_mappings: Vec<EsmFile>,
    #[serde(default)]
    watch: Option<WatchFile>,
    #[serde(default)]
    web: Option<WebFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebFile {
    dist: PathBuf,
    csp: PathBuf,
    cognito_endpoint: String,
    region: String,
    client_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WatchFile {
    // Strings, read only when the watch mode is on: with it off, whatever the variables hold
    // does not matter.
    enabled: String,
    workspace: PathBuf,
    target_dir: PathBuf,
    build_budget_secs: String,
    #[serde(default = "default_cargo")]
    cargo: PathBuf,
}

impl WatchFile {
    /// `None` unless `enabled` is `true`, `1` or `yes`.
    fn into_config(self) -> Result<Option<WatchConfig>, ConfigError> {
        if !matches!(self.enabled.trim(), "true" | "1" | "yes") {
            return Ok(None);
        }
        let number = |name: &str, v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| ConfigError::Invalid(format!("watch.{name} {v:?}: {e}")))
        };
        Ok(Some(WatchConfig {
            workspace: self.workspace,
            target_dir: self.target_dir,
            build_budget: Duration::from_secs(number(
                "build_budget_secs",
                &self.build_budget_secs,
            )?),
            cargo: self.cargo,
        }))
    }
}

fn default_cargo() -> PathBuf {
    "cargo".into()
}

fn default_api_id() -> String {
    "local".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthorizerFile {
    issuer: String,
    jwks_url: String,
    audiences: Vec<String>,
    #[serde(default = "default_leeway")]
    leeway_secs: u64,
}

fn default_leeway() -> u64 {
    30
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionFile {
    bootstrap: PathBuf,
    #[serde(default = "default_memory")]
    memory_mb: u32,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
    #[serde(default = "default_concurrency")]
    max_concurrency: usize,
    /// Milliseconds an invocation over max_concurrency waits before it is throttled (default:
    /// the timeout; 0 throttles at once, as Lambda does).
    #[serde(default)]
    throttle_wait_ms: Option<u64>,
    #[serde(default)]
    env: BTreeMap<String, serde_norway::Value>,
}

fn default_memory() -> u32 {
    256
}
fn default_timeout() -> u64 {
    10
}
fn default_concurrency() -> usize {
    4
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EsmFile {
    function: String,
    amqp_url: String,
    queue: String,
    #[serde(default = "default_batch")]
    batch_size: u16,
    #[serde(default = "default_window")]
    batching_window_ms: u64,
    #[serde(default = "default_true")]
    enabled: bool,
}

fn default_batch() -> u16 {
    100
}
fn default_window() -> u64 {
    500
}
fn default_true() -> bool {
    true
}

/// Replaces `${VAR}` and `${VAR:-default}` using `lookup`.
pub fn interpolate(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| ConfigError::Invalid("unterminated ${ in the gateway config".into()))?;
        let expr = &after[..end];
        let value = match expr.split_once(":-") {
            Some((name, default)) => lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned()),
            None => lookup(expr).ok_or_else(|| ConfigError::MissingVar(expr.to_owned()))?,
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl GatewayConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read(path.display().to_string(), e))?;
        Self::parse(&text, |name| std::env::var(name).ok())
    }

    pub fn parse(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        // Comments may mention ${...}; drop them before interpolating.
        let without_comments: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let file: File = serde_norway::from_str(&interpolate(&without_comments, lookup)?)?;
        let listen = file
            .listen
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("listen {:?}: {e}", file.listen)))?;
        let functions = file
            .functions
            .into_iter()
            .map(|(name, f)| FunctionConfig {
                bootstrap: f.bootstrap,
                env: f
                    .env
                    .into_iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_norway::Value::String(s) => s,
                            other => serde_norway::to_string(&other)
                                .unwrap_or_default()
                                .trim()
                                .to_owned(),
                        };
                        (k, v)
                    })
                    .collect(),
                memory_mb: f.memory_mb,
                timeout: Duration::from_secs(f.timeout_secs),
                throttle_wait: f
                    .throttle_wait_ms
                    .map_or(Duration::from_secs(f.timeout_secs), Duration::from_millis),
                max_concurrency: f.max_concurrency,
                forward_logs: true,
                name,
            })
            .collect::<Vec<_>>();
        let mut mappings = Vec::new();
        for m in file.event_source_mappings {
            if !functions.iter().any(|f| f.name == m.function) {
                return Err(ConfigError::Invalid(format!(
                    "event source mapping targets unknown function {}",
                    m.function
                )));
            }
            // Capped like Terraform's billing_batch_size: a bigger batch could outlast the
            // consumer's timeout and be redelivered forever (README, "Billing").
            if m.batch_size == 0 || usize::from(m.batch_size) > billing::MAX_BILLING_BATCH {
                return Err(ConfigError::Invalid(format!(
                    "event source mapping batch_size {} is outside 1..={}",
                    m.batch_size,
                    billing::MAX_BILLING_BATCH
                )));
            }
            // The mapping's UUID is made of the two.
            let same = |c: &EsmConfig| c.function == m.function && c.queue == m.queue;
            if mappings.iter().any(same) {
                return Err(ConfigError::Invalid(format!(
                    "two event source mappings of queue {} to function {}",
                    m.queue, m.function
                )));
            }
            let mut cfg = EsmConfig::new(&m.function, &m.amqp_url, &m.queue);
            cfg.batch_size = m.batch_size;
            cfg.batching_window = Duration::from_millis(m.batching_window_ms);
            cfg.enabled = m.enabled;
            mappings.push(cfg);
        }
        Ok(Self {
            listen,
            openapi: file.openapi,
            api_id: file.api_id,
            authorizer: AuthorizerConfig {
                issuer: file.authorizer.issuer,
                jwks_url: file.authorizer.jwks_url,
                audiences: file
                    .authorizer
                    .audiences
                    .into_iter()
                    .filter(|a| !a.is_empty())
                    .collect(),
                leeway_secs: file.authorizer.leeway_secs,
                jwks_min_refresh: crate::authorizer::JWKS_MIN_REFRESH,
                jwks_failure_ttl: crate::authorizer::JWKS_FAILURE_TTL,
                jwks_timeout: crate::authorizer::JWKS_TIMEOUT,
            },
            functions,
            event_source_mappings: mappings,
            watch: file
                .watch
                .map(WatchFile::into_config)
                .transpose()?
                .flatten(),
            web: file.web.map(|w| WebConfig {
                dist: w.dist,
                csp_file: w.csp,
                cognito_endpoint: w.cognito_endpoint,
                region: w.region,
                client_id: w.client_id,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_replaced_and_missing_ones_named() {
        let env = |n: &str| (n == "A").then(|| "1".to_owned());
        assert_eq!(interpolate("x${A}y${B:-2}z", env).unwrap(), "x1y2z");
        let err = interpolate("${NOPE}", env).unwrap_err();
        assert!(err.to_string().contains("NOPE"));
    }

    #[test]
    fn the_shipped_config_parses() {
        let text = include_str!("../../gateway.yaml");
        let cfg = GatewayConfig::parse(text, |n| {
            // Numeric settings have defaults; leave them unset.
            let numeric = n == "LOCAL_GATEWAY_PORT"
                || n.starts_with("ESM_")
                || n.ends_with("_CONCURRENCY")
                || n.ends_with("_MS");
            (!numeric).then(|| format!("v-{n}"))
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<_> = cfg.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, vec!["billing-api", "billing-consumer", "inventory"]);
        assert_eq!(cfg.event_source_mappings.len(), 1);
        assert!(
            cfg.watch.is_none(),
            "release binaries unless FUNCTIONS_WATCH=true"
        );
    }

    #[test]
    fn the_watch_mode_is_read_when_on() {
        let text = include_str!("../../gateway.yaml");
        let parse = |watch: &'static str, budget: &'static str| {
            GatewayConfig::parse(text, move |n| match n {
                "FUNCTIONS_WATCH" => Some(watch.to_owned()),
                "WATCH_BUILD_BUDGET_SECS" => Some(budget.to_owned()),
                "LOCAL_GATEWAY_PORT" => None,
                n if n.starts_with("ESM_") || n.ends_with("_CONCURRENCY") || n.ends_with("_MS") => {
                    None
                }
                n => Some(format!("v-{n}")),
            })
        };
        let on = parse("true", "300").unwrap().watch.unwrap();
        assert_eq!(on.build_budget, Duration::from_secs(300));
        assert_eq!(on.cargo, PathBuf::from("cargo"));
        assert!(parse("false", "300").unwrap().watch.is_none());
        let err = parse("1", "soon").unwrap_err();
        assert!(err.to_string().contains("watch.build_budget_secs"), "{err}");
    }

    #[test]
    fn a_queue_is_mapped_to_a_function_once() {
        let text = format!(
            "{}\n  - function: billing-consumer\n    amqp_url: amqp://other\n    queue: \"${{BILLING_QUEUE:-billing_queue}}\"\n",
            include_str!("../../gateway.yaml").trim_end()
        );
        let err = GatewayConfig::parse(&text, |n| {
            let numeric = n == "LOCAL_GATEWAY_PORT"
                || n.starts_with("ESM_")
                || n.ends_with("_CONCURRENCY")
                || n.ends_with("_MS");
            (!numeric && n != "BILLING_QUEUE").then(|| format!("v-{n}"))
        })
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("two event source mappings of queue billing_queue to function billing-consumer")
        );
    }

    #[test]
    fn the_batch_size_is_capped() {
        let text = include_str!("../../gateway.yaml");
        let with_batch = |size: &'static str| {
            GatewayConfig::parse(text, move |n| match n {
                "ESM_BATCH_SIZE" => Some(size.to_owned()),
                "LOCAL_GATEWAY_PORT" => None,
                n if n.starts_with("ESM_") || n.ends_with("_CONCURRENCY") || n.ends_with("_MS") => {
                    None
                }
                n => Some(format!("v-{n}")),
            })
        };
        assert!(with_batch("1000").is_ok());
        for bad in ["0", "1001", "10000"] {
            let Err(err) = with_batch(bad) else {
                panic!("batch_size {bad} accepted")
            };
            assert!(err.to_string().contains("batch_size"), "{err}");
        }
    }
}
