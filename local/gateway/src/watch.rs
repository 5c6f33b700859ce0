//! The second kind of [`Invoker`]: functions served by `cargo lambda watch`, which rebuilds a
//! function when a source file is saved and runs the new build at the next invocation.
//!
//! `cargo lambda watch` emulates the Lambda Invoke API (`POST
//! /2015-03-31/functions/<name>/invocations`) but has no authorizer, no routes and no event
//! source mapping; the gateway keeps doing those and only hands the invocation over. One watcher
//! runs per function, because `cargo lambda watch` gives every function it runs its own
//! environment (<https://www.cargo-lambda.info/commands/watch.html#environment-variables>) and
//! our functions need different ones (each its database, user and password). The function's
//! `env` from the gateway config is therefore the watcher's environment, with only what cargo
//! and rustup need added (PATH, HOME, `CARGO_HOME`, `CARGO_TARGET_DIR`, `RUSTUP_*`, `RUSTFLAGS`): nothing else of the
//! gateway's environment leaks in.
//!
//! While a function rebuilds, `cargo lambda watch` holds the invocation until the new build asks
//! for work; before its listener is up it refuses connections. Both wait here, bounded by the
//! function timeout plus the build budget; an invocation that reached the function is never
//! sent twice (billing would publish twice).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::process::{Child, Command};

use crate::lambda::{FunctionConfig, Invocation, InvokeError, Invoker, LambdaService};
use crate::metrics::Recorder;

/// Where and how the watchers run (`watch:` in the gateway config).
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The workspace `cargo lambda watch` builds and watches (its `Cargo.toml` directory).
    pub workspace: PathBuf,
    /// The functions, in name order, listen on `base_port`, `base_port + 1`, ...
    pub base_port: u16,
    /// How long an invocation may wait for a build (cold or after a save), on top of the
    /// function's timeout.
    pub build_budget: Duration,
    /// The `cargo` to run (`cargo lambda watch ...`); tests put a fake in its place.
    pub cargo: PathBuf,
}

/// Variables the watcher (cargo, rustup, the linker) needs from the gateway's environment.
/// Only these: any other variable a build script watches would, when it differs from one run
/// to the next (under `cargo test` cargo sets many `CARGO_*`), rebuild dependencies.
fn toolchain_env() -> impl Iterator<Item = (String, String)> {
    const KEEP: [&str; 10] = [
        "PATH",
        "HOME",
        "USER",
        "TMPDIR",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
    ];
    std::env::vars().filter(|(k, _)| KEEP.contains(&k.as_str()))
}

/// A [`LambdaService`] whose functions run under one `cargo lambda watch` each.
pub fn service(
    functions: &[FunctionConfig],
    watch: &WatchConfig,
) -> std::io::Result<LambdaService> {
    let mut sorted: Vec<&FunctionConfig> = functions.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    // The functions' EMF lines become metrics here too; what Lambda itself publishes
    // (`AWS/Lambda`) is the spawned invoker's business, not cargo lambda's.
    let recorder = Recorder::new();
    let mut invokers = Vec::new();
    for (i, cfg) in sorted.into_iter().enumerate() {
        let port = watch.base_port.saturating_add(i as u16);
        let watched = WatchedFunction::start(cfg, watch, port, &recorder)?;
        let invoker: Arc<dyn Invoker> = Arc::new(watched);
        invokers.push((cfg.name.clone(), invoker));
    }
    Ok(LambdaService::with_invokers(recorder, invokers))
}

pub struct WatchedFunction {
    name: String,
    url: String,
    timeout: Duration,
    budget: Duration,
    client: reqwest::Client,
    watcher: std::sync::Mutex<Child>,
    pgid: Option<u32>,
}

impl WatchedFunction {
    fn start(
        cfg: &FunctionConfig,
        watch: &WatchConfig,
        port: u16,
        recorder: &Recorder,
    ) -> std::io::Result<Self> {
        let region = crate::lambda::region();
        let mut env: BTreeMap<String, String> = toolchain_env().collect();
        env.insert("AWS_REGION".into(), region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), region);
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            if let Ok(v) = std::env::var(name) {
                env.insert(name.into(), v);
            }
        }
        env.extend(cfg.env.clone());
        let mut cmd = Command::new(&watch.cargo);
        cmd.args([
            "lambda",
            "watch",
            "--bin",
            &cfg.name,
            "-A",
            "127.0.0.1",
            "-P",
        ])
        .arg(port.to_string())
        .arg("--concurrency")
        .arg(cfg.max_concurrency.max(1).to_string())
        // Its Invoke and runtime APIs answer any origin by default: a web page could then read
        // an invocation's answer, or take the next event with its bearer token.
        .arg("--disable-cors")
        .current_dir(&watch.workspace)
        .env_clear()
        .envs(&env)
        .stdin(Stdio::null())
        // Its own process group: stopping the gateway stops cargo and the function with it.
        .process_group(0)
        .kill_on_drop(true);
        if cfg.forward_logs {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let mut child = cmd.spawn().map_err(|e| {
            std::io::Error::other(format!(
                "starting `cargo lambda watch --bin {}` (pip install cargo-lambda): {e}",
                cfg.name
            ))
        })?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(crate::lambda::forward_lines(
                cfg.name.clone(),
                out,
                Some(recorder.clone()),
            ));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(crate::lambda::forward_lines(cfg.name.clone(), err, None));
        }
        tracing::info!(function = %cfg.name, port, "cargo lambda watch started (rebuilds on save)");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        Ok(Self {
            url: format!(
                "http://127.0.0.1:{port}/2015-03-31/functions/{}/invocations",
                cfg.name
            ),
            name: cfg.name.clone(),
            timeout: cfg.timeout,
            budget: cfg.timeout + watch.build_budget,
            client,
            pgid: child.id(),
            watcher: std::sync::Mutex::new(child),
        })
    }

    fn watcher_exit(&self) -> Option<String> {
        let mut child = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    async fn call(&self, payload: Bytes) -> Result<Invocation, InvokeError> {
        let started = Instant::now();
        let deadline = started + self.budget;
        let retry_pause = Duration::from_millis(200);
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(InvokeError::Timeout(self.budget));
            }
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(payload.clone())
                .timeout(remaining)
                .send()
                .await;
            let resp = match sent {
                // The watcher is not listening yet (starting) or any more.
                Err(e) if e.is_connect() => {
                    if let Some(status) = self.watcher_exit() {
                        return Err(InvokeError::Spawn {
                            path: format!("cargo lambda watch --bin {}", self.name),
                            reason: format!("exited ({status})"),
                        });
                    }
                    tokio::time::sleep(retry_pause).await;
                    continue;
                }
                // No answer within the function timeout plus the build budget: a build that
                // failed (cargo lambda watch then holds the request), a hung function.
                Err(e) if e.is_timeout() => return Err(InvokeError::Timeout(self.budget)),
                // The request reached the watcher: it may have run, so never send it again.
                Err(e) => return Err(InvokeError::Crashed(e.to_string())),
                Ok(r) => r,
            };
            let status = resp.status();
            let function_error = resp
                .headers()
                .get("x-amz-function-error")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let request_id = resp
                .headers()
                .get("x-amzn-requestid")
                .or_else(|| resp.headers().get("lambda-runtime-aws-request-id"))
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
            // A gateway-type answer from the watcher itself (no function error): the function
            // was not reached, so it is safe to try again within the budget.
            if function_error.is_none()
                && matches!(status.as_u16(), 502..=504)
                && self.watcher_exit().is_none()
            {
                tokio::time::sleep(retry_pause).await;
                continue;
            }
            let body = resp
                .bytes()
                .await
                .map_err(|e| InvokeError::Crashed(e.to_string()))?;
            if !status.is_success() && function_error.is_none() {
                return Err(InvokeError::Crashed(format!(
                    "cargo lambda watch answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )));
            }
            let total = started.elapsed();
            tracing::info!(
                function = %self.name,
                request_id = %request_id,
                duration_ms = total.as_secs_f64() * 1000.0,
                error = function_error.as_deref(),
                "REPORT (cargo lambda watch)"
            );
            return Ok(Invocation {
                request_id,
                payload: body,
                function_error,
                init_duration: None,
                total,
            });
        }
    }
}

impl Invoker for WatchedFunction {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>> {
        Box::pin(self.call(payload))
    }

    fn instances(&self) -> usize {
        usize::from(self.watcher_exit().is_none())
    }

    /// `cargo lambda watch` owns its instances; they restart on every rebuild.
    fn stop_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    fn integration_timeout(&self) -> Duration {
        self.budget.max(self.timeout)
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async { self.kill_group() })
    }
}

impl Drop for WatchedFunction {
    fn drop(&mut self) {
        self.kill_group();
    }
}

impl WatchedFunction {
    fn kill_group(&self) {
        // cargo and the function it runs share the watcher's process group.
        if let Some(pgid) = self.pgid {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pgid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
