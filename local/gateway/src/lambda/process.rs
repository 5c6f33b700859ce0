//! The process manager behind the first kind of [`Invoker`]: each function's `bootstrap` runs as
//! Lambda runs it, one process per execution environment, each with its own runtime API
//! ([`super::runtime_api`]) and a clean environment (only the `AWS_LAMBDA_*` variables Lambda sets
//! plus the function's configured ones). Instances start on demand up to `max_concurrency`, are
//! reused while warm, are killed on timeout and replaced after a crash or a rebuild.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::runtime_api::{Endpoint, Outcome, Pending, RuntimeApi};
use super::{FunctionConfig, INIT_TIMEOUT, Invocation, InvokeError, Invoker, MAX_PAYLOAD};
use crate::metrics::{MetricId, Recorder};

impl Invoker for SpawnedFunction {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>> {
        Box::pin(SpawnedFunction::invoke(self, payload))
    }

    fn instances(&self) -> usize {
        self.live.load(Ordering::SeqCst) as usize
    }

    fn running(&self) -> usize {
        SpawnedFunction::running(self)
    }

    fn stop_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(SpawnedFunction::stop_idle(self))
    }
}

/// A function run as its spawned `bootstrap`, Lambda-style.
pub struct SpawnedFunction {
    cfg: FunctionConfig,
    arn: String,
    permits: Semaphore,
    idle: Mutex<Vec<Instance>>,
    live: Arc<AtomicU64>,
    recorder: Recorder,
}

impl SpawnedFunction {
    pub fn new(cfg: FunctionConfig, recorder: Recorder) -> Self {
        Self {
            arn: super::function_arn(&cfg.name),
            permits: Semaphore::new(cfg.max_concurrency.max(1)),
            idle: Mutex::new(Vec::new()),
            live: Arc::new(AtomicU64::new(0)),
            recorder,
            cfg,
        }
    }

    fn running(&self) -> usize {
        self.cfg
            .max_concurrency
            .max(1)
            .saturating_sub(self.permits.available_permits())
    }

    fn metric(&self, name: &str, value: f64) {
        self.recorder.put(
            MetricId::new("AWS/Lambda", name, &[("FunctionName", &self.cfg.name)]),
            value,
        );
    }

    async fn invoke(&self, payload: Bytes) -> Result<Invocation, InvokeError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(InvokeError::PayloadTooLarge);
        }
        let started = Instant::now();
        // Lambda throttles at once when over its reserved concurrency; locally a burst from one
        // developer should not fail, so we wait for a free instance up to `throttle_wait`.
        let permit = match self.permits.try_acquire() {
            Ok(p) => Ok(p),
            Err(_) if self.cfg.throttle_wait.is_zero() => Err(()),
            Err(_) => {
                match tokio::time::timeout(self.cfg.throttle_wait, self.permits.acquire()).await {
                    Ok(Ok(p)) => Ok(p),
                    _ => Err(()),
                }
            }
        };
        let permit = match permit {
            Ok(p) => p,
            Err(()) => {
                self.metric("Throttles", 1.0);
                return Err(InvokeError::Throttled(self.cfg.name.clone()));
            }
        };
        self.metric("ConcurrentExecutions", self.running() as f64);
        let outcome = self.invoke_with_permit(payload, started).await;
        drop(permit);
        // Lambda publishes Invocations, Errors and Throttles for every invocation (0 or 1 each,
        // so Average is a rate) and Duration for those that ran.
        self.metric("Invocations", 1.0);
        self.metric("Throttles", 0.0);
        let failed = match &outcome {
            Ok(inv) => inv.function_error.is_some(),
            Err(e) => e.is_function_failure(),
        };
        self.metric("Errors", if failed { 1.0 } else { 0.0 });
        if let Ok(inv) = &outcome {
            let init = inv.init_duration.unwrap_or_default();
            self.metric(
                "Duration",
                inv.total.saturating_sub(init).as_secs_f64() * 1000.0,
            );
            if let Some(init) = inv.init_duration {
                self.recorder.put(
                    MetricId::new(
                        "LambdaInsights",
                        "init_duration",
                        &[("function_name", &self.cfg.name)],
                    ),
                    init.as_secs_f64() * 1000.0,
                );
            }
        }
        outcome
    }

    async fn invoke_with_permit(
        &self,
        payload: Bytes,
        started: Instant,
    ) -> Result<Invocation, InvokeError> {
        let mut instance = self.take_idle().await;
        let cold = instance.is_none();
        let mut instance = match instance.take() {
            Some(i) => i,
            None => {
                Instance::start(&self.cfg, &self.arn, self.live.clone(), &self.recorder).await?
            }
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let budget = if cold {
            self.cfg.timeout + INIT_TIMEOUT
        } else {
            self.cfg.timeout
        };
        match instance
            .invoke(&request_id, payload, self.cfg.timeout, budget)
            .await
        {
            Ok((payload, function_error)) => {
                let init_duration = if cold { instance.init_duration() } else { None };
                let total = started.elapsed();
                // Lambda's REPORT line, in milliseconds.
                tracing::info!(
                    function = %self.cfg.name,
                    request_id = %request_id,
                    duration_ms = total.saturating_sub(init_duration.unwrap_or_default()).as_secs_f64() * 1000.0,
                    init_duration_ms = init_duration.map(|d| d.as_secs_f64() * 1000.0),
                    error = function_error.as_deref(),
                    "REPORT"
                );
                // Lambda keeps the environment after a handled or unhandled error reported
                // through `/error`; only a crash or timeout loses it.
                self.idle.lock().await.push(instance);
                Ok(Invocation {
                    request_id,
                    payload,
                    function_error,
                    init_duration,
                    total,
                })
            }
            Err(e) => {
                tracing::warn!(function = %self.cfg.name, %request_id, error = %e, "invocation failed; instance discarded");
                instance.stop().await;
                Err(e)
            }
        }
    }

    async fn take_idle(&self) -> Option<Instance> {
        let current = binary_version(&self.cfg.bootstrap);
        let mut idle = self.idle.lock().await;
        while let Some(mut instance) = idle.pop() {
            if !instance.alive() {
                tracing::warn!(function = %self.cfg.name, "an idle instance had exited; replacing it");
            } else if instance.binary != current {
                // Like `cargo lambda watch`: a rebuilt bootstrap takes over at the next request.
                tracing::info!(function = %self.cfg.name, "bootstrap changed on disk; starting the new build");
                instance.stop().await;
            } else {
                return Some(instance);
            }
        }
        None
    }

    async fn stop_idle(&self) {
        let idle = std::mem::take(&mut *self.idle.lock().await);
        for mut instance in idle {
            instance.stop().await;
        }
    }
}

struct Instance {
    tx: mpsc::Sender<Pending>,
    child: Child,
    api: Arc<RuntimeApi>,
    server: JoinHandle<()>,
    spawned: Instant,
    /// The bootstrap's modification time when this instance started.
    binary: Option<SystemTime>,
    live: Arc<AtomicU64>,
    counted: bool,
}

impl Instance {
    async fn start(
        cfg: &FunctionConfig,
        arn: &str,
        live: Arc<AtomicU64>,
        recorder: &Recorder,
    ) -> Result<Self, InvokeError> {
        let spawn_err = |reason: String| InvokeError::Spawn {
            path: cfg.bootstrap.display().to_string(),
            reason,
        };
        let Endpoint {
            addr,
            tx,
            api,
            server,
        } = Endpoint::start(arn)
            .await
            .map_err(|e| spawn_err(format!("runtime API listener: {e}")))?;

        let mut cmd = Command::new(&cfg.bootstrap);
        cmd.env_clear()
            .envs(lambda_environment(cfg, addr))
            .envs(&cfg.env)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(dir) = cfg.bootstrap.parent().filter(|d| !d.as_os_str().is_empty()) {
            cmd.current_dir(dir);
        }
        if cfg.forward_logs {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let binary = binary_version(&cfg.bootstrap);
        let (mut child, spawned) = match spawn_when_not_busy(&mut cmd).await {
            Ok(started) => started,
            Err(e) => {
                server.abort();
                return Err(spawn_err(e.to_string()));
            }
        };
        if cfg.forward_logs {
            if let Some(out) = child.stdout.take() {
                tokio::spawn(forward_lines(cfg.name.clone(), out, Some(recorder.clone())));
            }
            if let Some(err) = child.stderr.take() {
                tokio::spawn(forward_lines(cfg.name.clone(), err, None));
            }
        }
        live.fetch_add(1, Ordering::SeqCst);
        tracing::info!(function = %cfg.name, runtime_api = %addr, "started a new instance (cold start)");
        Ok(Self {
            tx,
            child,
            api,
            server,
            spawned,
            binary,
            live,
            counted: true,
        })
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn init_duration(&self) -> Option<Duration> {
        self.api
            .first_next()
            .map(|t| t.duration_since(self.spawned))
    }

    async fn invoke(
        &mut self,
        request_id: &str,
        payload: Bytes,
        timeout: Duration,
        budget: Duration,
    ) -> Result<(Bytes, Option<String>), InvokeError> {
        let (reply, answer) = oneshot::channel();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let pending = Pending {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms: (now + timeout).as_millis(),
            trace_id: trace_id(now.as_secs()),
            reply,
        };
        if self.tx.send(pending).await.is_err() {
            return Err(InvokeError::Crashed("runtime API is gone".into()));
        }
        enum Event {
            Answer(Option<Outcome>),
            Exited,
            TimedOut,
        }
        let event = tokio::select! {
            a = answer => Event::Answer(a.ok()),
            _ = self.child.wait() => Event::Exited,
            _ = tokio::time::sleep(budget) => Event::TimedOut,
        };
        match event {
            Event::Answer(Some(Outcome::Response(body))) => Ok((body, None)),
            Event::Answer(Some(Outcome::Error { error_type, body })) => {
                Ok((body, Some(error_type)))
            }
            Event::Answer(None) | Event::Exited => Err(self.exit_reason().await),
            Event::TimedOut => Err(InvokeError::Timeout(timeout)),
        }
    }

    async fn exit_reason(&mut self) -> InvokeError {
        let status = self.child.wait().await;
        if let Some(e) = self.api.init_error() {
            return InvokeError::InitFailed(e);
        }
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        if self.api.first_next().is_none() {
            InvokeError::InitFailed(format!("runtime exited before asking for work ({status})"))
        } else {
            InvokeError::Crashed(status)
        }
    }

    async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.server.abort();
        self.uncount();
    }

    fn uncount(&mut self) {
        if self.counted {
            self.counted = false;
            self.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
        self.uncount();
        // The child has kill_on_drop.
    }
}

fn binary_version(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The variables Lambda sets for a `provided.al2023` function; everything else comes from
/// the function's configuration, as on AWS (the gateway's own environment does not leak in).
fn lambda_environment(cfg: &FunctionConfig, runtime_api: SocketAddr) -> Vec<(String, String)> {
    let region = super::region();
    let today = crate::time::ymd_slash(SystemTime::now());
    let mut vars = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", cfg.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", cfg.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{today}/[$LATEST]{}", uuid::Uuid::new_v4().simple()),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", region.clone()),
        ("AWS_DEFAULT_REGION", region),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", "/var/task".into()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        (
            "PATH",
            std::env::var("PATH")
                .unwrap_or_else(|_| "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
        ),
    ];
    // Lambda hands the execution role's credentials to the function as variables.
    for name in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        if let Ok(v) = std::env::var(name) {
            vars.push((name, v));
        }
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn trace_id(epoch_secs: u64) -> String {
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch_secs:08x}-{};Parent={};Sampled=0;Lineage=1:{}:0",
        &a[..24],
        &b[..16],
        &b[16..24]
    )
}

/// Copies a function's output to ours; on stdout, EMF lines also become metrics, as the
/// CloudWatch Logs agent of Lambda turns them into metrics.
pub(crate) async fn forward_lines(
    name: String,
    stream: impl tokio::io::AsyncRead + Unpin,
    emf: Option<Recorder>,
) {
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(r) = &emf {
            r.ingest_emf(&line);
        }
        eprintln!("[{name}] {line}");
    }
}

/// Spawns `cmd`, retrying for up to about a second while the kernel reports the file busy; the
/// instant is that of the attempt that started it, so the retries do not count as init.
///
/// `execve` fails with `ETXTBSY` while any process holds the bootstrap open for writing. That
/// happens for a moment after a rebuild (`cargo` or a test writing the file) even once the writer
/// has closed it: a process forked at that instant by another thread inherits the descriptor until
/// its own `exec` closes it (`O_CLOEXEC`). The condition is transient, so a short retry is the fix.
async fn spawn_when_not_busy(cmd: &mut Command) -> std::io::Result<(Child, Instant)> {
    let mut attempt = 0u32;
    loop {
        let started = Instant::now();
        match cmd.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other.map(|child| (child, started)),
        }
    }
}
