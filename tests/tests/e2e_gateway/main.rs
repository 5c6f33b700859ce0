//! End to end through the local gateway, as a user of `make dev` meets the system: the gateway
//! from `local/gateway.yaml` on a free port, PostgreSQL, RabbitMQ and moto's Cognito. Each test
//! gets its own databases, user pool and billing queue, so they run in parallel with each other
//! and with `make dev`.
//!
//! The functions run in-process ([`local_gateway::InProcess`]: their real routers and handler,
//! wired from the environment the config gives them), so no build is needed; one smoke test
//! ([`smoke`]) runs the release bootstraps `make test` builds first (`make release-bins`), and
//! the watch test ([`watch`]) runs the release `local-gateway` binary building the functions in
//! debug, as `make dev WATCH=1` does.
//! This file holds what the topics share: the stack, its tokens and calls.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod billing;
mod functions;
mod routes;
mod smoke;
mod tokens;
mod watch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use database::migrate::Database;
use integration_tests::{
    BrokerUsers, TestDb, aws_endpoint, eventually, pg_host, pg_password, pg_port, pg_user, unique,
};
use local_gateway::localaws::{LocalAws, Settings};
use local_gateway::{GatewayConfig, RunningGateway};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a `localaws` command (the moto setup `make dev` uses, in-process) with a state dir and
/// pool of this test's own; returns what the command prints.
fn localaws(state: &Path, pool: &str, args: &[&str]) -> String {
    let settings = Settings {
        state_dir: state.to_path_buf(),
        pool_name: pool.to_owned(),
        ..Settings::from_env()
    };
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    // The library is async and the callers are not: run it on a runtime of its own.
    let printed = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(LocalAws::new(settings).run(&args))
            })
            .join()
            .unwrap()
    });
    let printed = printed.unwrap_or_else(|| panic!("localaws has no command {args:?}"));
    printed
        .unwrap_or_else(|e| panic!("localaws {args:?} failed: {e}"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// How the gateway runs the functions.
enum Functions {
    /// Their handlers in this process.
    InProcess,
    /// Their release `bootstrap`s, from `target/release` (built before the tests).
    Release,
    /// The bootstraps in this directory (wrappers around the release ones), logging at TRACE
    /// (`RUST_LOG=trace`, `AWS_LAMBDA_LOG_LEVEL=TRACE`).
    Traced(PathBuf),
    /// Debug builds rebuilt on save, with these variables for the config, in the release
    /// `local-gateway` binary as `make dev WATCH=1` runs it.
    Watch(Vec<(&'static str, String)>),
}

/// Where the gateway runs: in this process, or as the `local-gateway` binary.
enum Gateway {
    InProcess(RunningGateway),
    /// Held for its `Drop`.
    Process {
        _process: GatewayProcess,
    },
}

/// Stops the gateway binary with SIGTERM (so it stops its function instances) when dropped.
struct GatewayProcess {
    child: tokio::process::Child,
}

impl GatewayProcess {
    /// Starts `local-gateway local/gateway.yaml` with `vars`; returns it and its URL.
    async fn start(vars: &HashMap<&str, String>) -> (Self, String) {
        let log = std::env::var_os("TEST_LOG").is_some();
        let mut child = tokio::process::Command::new(smoke::release_dir().join("local-gateway"))
            .arg(root().join("local/gateway.yaml"))
            .current_dir(root())
            .envs(vars.iter().map(|(k, v)| (*k, v)))
            .env("GATEWAY_LOG", if log { "debug" } else { "error" })
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("start local-gateway");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the gateway prints its URL")
            .unwrap()
            .expect("the gateway exited before listening");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL in the first line")
            .to_owned();
        (Self { child }, url)
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        // It stops its function instances and builds before exiting.
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.start_kill();
    }
}

struct Stack {
    url: String,
    port: u16,
    http: reqwest::Client,
    state: PathBuf,
    pool: String,
    cognito: HashMap<String, String>,
    _movies: TestDb,
    orders: TestDb,
    _broker: BrokerUsers,
    /// Dropping it stops the gateway and the function processes it started (in-process: the
    /// test's runtime ends its tasks, and the instances go with kill_on_drop).
    gateway: Gateway,
    /// Declared last, so it is released after the gateway has stopped.
    _turn: Turn,
}

/// The watch test builds the functions in debug on the machine's cores for minutes: it runs
/// alone, so the other stacks' JWKS fetches and database logins never compete with it.
static TURNS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

enum Turn {
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'static, ()>),
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'static, ()>),
}

impl Stack {
    async fn start() -> Self {
        Self::start_with(Functions::InProcess).await
    }

    async fn start_with(functions: Functions) -> Self {
        let turn = match functions {
            Functions::Watch(_) => Turn::Alone(TURNS.write().await),
            _ => Turn::Shared(TURNS.read().await),
        };
        let movies = TestDb::new(Database::Movies).await;
        let orders = TestDb::new(Database::Orders).await;
        let state = std::env::temp_dir().join(unique("e2e_gateway"));
        std::fs::create_dir_all(&state).unwrap();
        let pool = unique("e2e-pool");
        localaws(&state, &pool, &["setup"]);
        let cognito = read_env(&state.join("cognito.env"));
        let dlq = read_env(&state.join("sqs.env"));

        // The billing queue of this test, declared by setup's broker step with the two users
        // it creates: billing-api publishes and the mapping consumes with them, as on AWS.
        let broker = BrokerUsers::new("billing_e2e").await;
        let log = std::env::var_os("TEST_LOG").is_some();
        let mut vars: HashMap<&str, String> = HashMap::from([
            ("LOCAL_GATEWAY_PORT", "0".to_owned()),
            ("OPENAPI", root().join("openapi.yaml").display().to_string()),
            // The shipped config's web client, from the checkout (its paths are relative to it).
            ("WEB_CSP", root().join("web/csp.txt").display().to_string()),
            ("WEB_DIST", root().join("web/dist").display().to_string()),
            ("AWS_ENDPOINT_URL", aws_endpoint()),
            ("BILLING_DLQ_URL", dlq["BILLING_DLQ_URL"].clone()),
            ("BILLING_QUEUE", broker.queue.clone()),
            ("AMQP_PUBLISHER_URL", broker.publisher_url()),
            ("AMQP_CONSUMER_URL", broker.consumer_url()),
            ("ESM_BATCHING_WINDOW_MS", "100".to_owned()),
            ("CRUD_PG_HOST", pg_host()),
            ("CRUD_PG_PORT", pg_port().to_string()),
            ("MOVIES_DB", movies.name.clone()),
            ("MOVIES_DB_USER", pg_user()),
            ("MOVIES_DB_PASSWORD", pg_password()),
            ("ORDERS_DB", orders.name.clone()),
            ("ORDERS_DB_USER", pg_user()),
            ("ORDERS_DB_PASSWORD", pg_password()),
            ("ORDERS_READER_USER", pg_user()),
            ("ORDERS_READER_PASSWORD", pg_password()),
            (
                "FUNCTION_LOG",
                if log { "debug" } else { "warn" }.to_owned(),
            ),
        ]);
        for k in [
            "COGNITO_USER_POOL_ID",
            "COGNITO_CLIENT_ID",
            "COGNITO_MACHINE_CLIENT_ID",
        ] {
            vars.insert(k, cognito[k].clone());
        }
        if let Functions::Watch(extra) = &functions {
            vars.extend(extra.iter().cloned());
        }
        match &functions {
            Functions::Release => {
                vars.insert("FUNCTIONS_DIR", smoke::release_dir().display().to_string());
            }
            Functions::Traced(dir) => {
                vars.insert("FUNCTIONS_DIR", dir.display().to_string());
                vars.insert("FUNCTION_LOG", "trace".to_owned());
                vars.insert("FUNCTION_LAMBDA_LOG_LEVEL", "TRACE".to_owned());
            }
            Functions::InProcess | Functions::Watch(_) => {}
        }
        let text = std::fs::read_to_string(root().join("local/gateway.yaml")).unwrap();
        let cfg = GatewayConfig::parse(&text, |k| {
            vars.get(k).cloned().or_else(|| std::env::var(k).ok())
        })
        .unwrap();
        let (url, gateway) = match functions {
            Functions::InProcess => {
                let lambda = functions::in_process(&cfg.functions).await;
                let gw = local_gateway::start_with(cfg, lambda).await.unwrap();
                (gw.url(), Gateway::InProcess(gw))
            }
            Functions::Release | Functions::Traced(_) => {
                let gw = local_gateway::start(cfg).await.unwrap();
                (gw.url(), Gateway::InProcess(gw))
            }
            Functions::Watch(_) => {
                let (process, url) = GatewayProcess::start(&vars).await;
                (url, Gateway::Process { _process: process })
            }
        };
        Self {
            port: url.rsplit(':').next().unwrap().parse().unwrap(),
            url,
            http: reqwest::Client::new(),
            state,
            pool,
            cognito,
            _movies: movies,
            orders,
            _broker: broker,
            gateway,
            _turn: turn,
        }
    }

    fn token(&self, user: &str) -> String {
        localaws(&self.state, &self.pool, &["token", user])
    }

    /// A client-credentials token of the local machine client, as `make machine-token` gives.
    fn machine_token(&self, scopes: &[&str]) -> String {
        let mut args = vec!["machine-token"];
        args.extend_from_slice(scopes);
        localaws(&self.state, &self.pool, &args)
    }

    /// moto signs every pool's tokens with one key that ships inside moto: with it we can make
    /// tokens whose signature is right and whose claims are whatever a test needs (PEM).
    fn moto_key(&self) -> Vec<u8> {
        localaws(&self.state, &self.pool, &["signing-key"]).into_bytes()
    }

    /// `method path` on the gateway; the body parsed as JSON (a string when it is not).
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Polls `GET path` with `token` until it answers 200; returns that body.
    async fn eventually_ok(&self, path: &str, token: &str, what: &str) -> Value {
        eventually(Duration::from_secs(30), what, || async {
            let (status, body) = self.call("GET", path, Some(token), None).await;
            (status == 200).then_some(body)
        })
        .await
    }

    /// POSTs an order; returns its message id once accepted.
    async fn order(&self, token: &str, order: Value) -> String {
        let (status, queued) = self
            .call("POST", "/api/billing", Some(token), Some(order))
            .await;
        assert_eq!(status, 200, "{queued}");
        assert_eq!(queued["status"], "queued");
        queued["message_id"].as_str().unwrap().to_owned()
    }

    /// `make target` against this gateway; awaited, not blocking: the gateway answering it runs
    /// on this test's runtime.
    async fn make(&self, target: &str) {
        let status = tokio::process::Command::new("make")
            .current_dir(root())
            .args(["-s", target, &format!("LOCAL_GATEWAY_PORT={}", self.port)])
            .output()
            .await
            .unwrap();
        assert!(
            status.status.success(),
            "make {target}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

/// The header and claims of a JWT.
fn claims_of(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        serde_json::from_slice(&B64URL.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    (part(0), part(1))
}

/// Creates a movie as `token`; returns it.
async fn add_movie(s: &Stack, token: &str, movie: Value) -> Value {
    let (status, created) = s
        .call("POST", "/api/movies", Some(token), Some(movie))
        .await;
    assert_eq!(status, 200, "{created}");
    created
}
