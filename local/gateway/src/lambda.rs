//! A local Lambda service: runs each function's `bootstrap` as Lambda does, behind the Lambda
//! runtime API (`/2018-06-01/runtime/...`), and invokes it.
//!
//! Like Lambda, every execution environment (instance) gets its own runtime API endpoint, its own
//! process and a clean environment (only the `AWS_LAMBDA_*` variables Lambda sets plus the
//! function's configured ones). Instances start on demand up to `max_concurrency`, are reused
//! while warm, are killed on timeout and replaced after a crash. [`Invocation`] reports the init
//! duration of cold starts, so benchmarks can measure exec-to-first-answer.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncBufReadExt;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::metrics::{MetricId, Recorder};

/// Lambda's synchronous payload limit, for requests and responses alike.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda gives the init phase 10 s, on top of the invocation timeout.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
pub const ACCOUNT_ID: &str = "123456789012";

#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    /// The executable Lambda would run: `bootstrap` of a `provided.al2023` function.
    pub bootstrap: PathBuf,
    pub env: BTreeMap<String, String>,
    pub memory_mb: u32,
    pub timeout: Duration,
    /// Reserved concurrency: at most this many instances run at once.
    pub max_concurrency: usize,
    /// How long an invocation over the reserved concurrency waits for a free instance before
    /// it is throttled. Lambda throttles at once (zero); the default, the function timeout,
    /// lets a burst from one developer through.
    pub throttle_wait: Duration,
    /// Copy the function's stdout/stderr to ours, each line prefixed with `[name]`.
    pub forward_logs: bool,
}

impl FunctionConfig {
    pub fn new(name: &str, bootstrap: impl Into<PathBuf>) -> Self {
        Self {
            name: name.to_owned(),
            bootstrap: bootstrap.into(),
            env: BTreeMap::new(),
            memory_mb: 256,
            timeout: Duration::from_secs(10),
            max_concurrency: 4,
            throttle_wait: Duration::from_secs(10),
            forward_logs: true,
        }
    }
}

/// The result of one invocation that reached the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// The response payload, or the error document for a function error.
    pub payload: Bytes,
    /// `Some("Unhandled")`-like error type when the function reported an error (`/error`), as
    /// the Invoke API's `X-Amz-Function-Error` header does.
    pub function_error: Option<String>,
    /// Cold start only: from exec of `bootstrap` to its first `/next` call (Lambda's Init Duration).
    pub init_duration: Option<Duration>,
    /// From the call to [`LambdaService::invoke`] to the answer, cold start included.
    pub total: Duration,
}

impl Invocation {
    pub fn is_cold(&self) -> bool {
        self.init_duration.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("function {0} does not exist")]
    UnknownFunction(String),
    #[error("request payload is larger than {MAX_PAYLOAD} bytes")]
    PayloadTooLarge,
    #[error("function {0} is at its concurrency limit")]
    Throttled(String),
    #[error("could not start {path}: {reason}")]
    Spawn { path: String, reason: String },
    #[error("the runtime failed to initialize: {0}")]
    InitFailed(String),
    #[error("task timed out after {0:?}")]
    Timeout(Duration),
    #[error("the runtime exited during the invocation: {0}")]
    Crashed(String),
}

impl InvokeError {
    /// The `errorType` Lambda reports for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnknownFunction(_) => "ResourceNotFoundException",
            Self::PayloadTooLarge => "RequestTooLargeException",
            Self::Throttled(_) => "TooManyRequestsException",
            Self::Spawn { .. } | Self::InitFailed(_) => "Runtime.InitError",
            Self::Timeout(_) => "Sandbox.Timedout",
            Self::Crashed(_) => "Runtime.ExitError",
        }
    }

    /// True when the function ran (or tried to) and failed: the Invoke API answers 200 with
    /// `X-Amz-Function-Error: Unhandled` for these, as Lambda does.
    pub fn is_function_failure(&self) -> bool {
        matches!(
            self,
            Self::InitFailed(_) | Self::Timeout(_) | Self::Crashed(_) | Self::Spawn { .. }
        )
    }
}

/// One way of running a function: [`LambdaService`] routes each invocation to its function's
/// invoker. Two exist: the spawned `bootstrap` behind our own runtime API (this module, like
/// Lambda), and `cargo lambda watch`'s invoke API ([`crate::watch`], rebuilds on save).
pub trait Invoker: Send + Sync {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>>;
    /// Execution environments alive now (busy or idle), as far as the invoker knows.
    fn instances(&self) -> usize;
    /// Invocations running now (Lambda's `ConcurrentExecutions`), where the invoker knows.
    fn running(&self) -> usize {
        0
    }
    /// Stops idle environments, so the next invocation is a cold start.
    fn stop_idle(&self) -> BoxFuture<'_, ()>;
    /// How long API Gateway waits for this function (its 30 s integration timeout by default;
    /// longer under `cargo lambda watch`, where a request may wait for a rebuild).
    fn integration_timeout(&self) -> Duration {
        crate::server::INTEGRATION_TIMEOUT
    }
    /// Stops everything the invoker started (the gateway is stopping).
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.stop_idle()
    }
}

/// Every configured function, by name.
#[derive(Clone)]
pub struct LambdaService {
    functions: Arc<HashMap<String, Arc<dyn Invoker>>>,
    recorder: Recorder,
}

impl LambdaService {
    /// Every function runs as its spawned `bootstrap`.
    pub fn new(configs: impl IntoIterator<Item = FunctionConfig>) -> Self {
        let recorder = Recorder::new();
        let invokers: Vec<(String, Arc<dyn Invoker>)> = configs
            .into_iter()
            .map(|cfg| {
                let name = cfg.name.clone();
                let invoker: Arc<dyn Invoker> = Arc::new(Function::new(cfg, recorder.clone()));
                (name, invoker)
            })
            .collect();
        Self::with_invokers(recorder, invokers)
    }

    /// Functions run by the invokers given (name, invoker), recording into `recorder`.
    pub fn with_invokers(
        recorder: Recorder,
        invokers: impl IntoIterator<Item = (String, Arc<dyn Invoker>)>,
    ) -> Self {
        Self {
            functions: Arc::new(invokers.into_iter().collect()),
            recorder,
        }
    }

    /// The metrics Lambda would publish (`AWS/Lambda`) and the functions' EMF lines.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Invocations running now, per function (Lambda's `ConcurrentExecutions`).
    pub fn concurrency(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self
            .functions
            .iter()
            .map(|(name, f)| (name.clone(), f.running()))
            .collect();
        v.sort();
        v
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    pub async fn invoke(&self, name: &str, payload: Bytes) -> Result<Invocation, InvokeError> {
        let function = self
            .functions
            .get(name)
            .ok_or_else(|| InvokeError::UnknownFunction(name.to_owned()))?;
        if payload.len() > MAX_PAYLOAD {
            return Err(InvokeError::PayloadTooLarge);
        }
        function.invoke(payload).await
    }

    /// How long API Gateway waits for `name` (see [`Invoker::integration_timeout`]).
    pub fn integration_timeout(&self, name: &str) -> Duration {
        self.functions
            .get(name)
            .map_or(crate::server::INTEGRATION_TIMEOUT, |f| {
                f.integration_timeout()
            })
    }

    /// Number of instances currently alive (busy or idle) for `name`.
    pub async fn instances(&self, name: &str) -> usize {
        self.functions.get(name).map_or(0, |f| f.instances())
    }

    /// Stops the idle instances of `name`, so its next invocation is a cold start (benchmarks
    /// use this to measure cold starts one after another).
    pub async fn stop_idle(&self, name: &str) {
        if let Some(f) = self.functions.get(name) {
            f.stop_idle().await;
        }
    }

    /// Stops every idle instance (busy ones stop when their invocation ends and they are dropped).
    pub async fn shutdown(&self) {
        for f in self.functions.values() {
            f.shutdown().await;
        }
    }
}

impl Invoker for Function {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>> {
        Box::pin(Function::invoke(self, payload))
    }

    fn instances(&self) -> usize {
        self.live.load(Ordering::SeqCst) as usize
    }

    fn running(&self) -> usize {
        Function::running(self)
    }

    fn stop_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(Function::stop_idle(self))
    }
}

struct Function {
    cfg: FunctionConfig,
    arn: String,
    permits: Semaphore,
    idle: Mutex<Vec<Instance>>,
    live: Arc<AtomicU64>,
    recorder: Recorder,
}

impl Function {
    fn new(cfg: FunctionConfig, recorder: Recorder) -> Self {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        Self {
            arn: format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{}", cfg.name),
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

/// What the runtime answered for one invocation.
enum Outcome {
    Response(Bytes),
    Error { error_type: String, body: Bytes },
}

struct Pending {
    request_id: String,
    payload: Bytes,
    deadline_ms: u128,
    trace_id: String,
    reply: oneshot::Sender<Outcome>,
}

/// State shared between an instance and its runtime API server.
struct RuntimeApi {
    arn: String,
    next: Mutex<mpsc::Receiver<Pending>>,
    inflight: StdMutex<Option<(String, oneshot::Sender<Outcome>)>>,
    init_error: StdMutex<Option<String>>,
    first_next: StdMutex<Option<Instant>>,
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
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| spawn_err(format!("runtime API listener: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| spawn_err(e.to_string()))?;
        let (tx, rx) = mpsc::channel(1);
        let api = Arc::new(RuntimeApi {
            arn: arn.to_owned(),
            next: Mutex::new(rx),
            inflight: StdMutex::new(None),
            init_error: StdMutex::new(None),
            first_next: StdMutex::new(None),
        });
        let server = tokio::spawn(serve_runtime_api(listener, api.clone()));

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
        let spawned = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
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
        lock(&self.api.first_next).map(|t| t.duration_since(self.spawned))
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
        if let Some(e) = lock(&self.api.init_error).clone() {
            return InvokeError::InitFailed(e);
        }
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        if lock(&self.api.first_next).is_none() {
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

fn lock<T: Clone>(m: &StdMutex<T>) -> T {
    m.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The variables Lambda sets for a `provided.al2023` function; everything else comes from
/// the function's configuration, as on AWS (the gateway's own environment does not leak in).
fn lambda_environment(cfg: &FunctionConfig, runtime_api: SocketAddr) -> Vec<(String, String)> {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
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

async fn serve_runtime_api(listener: TcpListener, api: Arc<RuntimeApi>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let api = api.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(runtime_route(&api, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": message });
    json_response(status, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn accepted() -> Response<Full<Bytes>> {
    json_response(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
}

async fn runtime_route(api: &RuntimeApi, req: Request<Incoming>) -> Response<Full<Bytes>> {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown runtime API path",
        );
    };
    let method = req.method().clone();
    let segments: Vec<&str> = rest.split('/').collect();
    match (method, segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next_invocation(api).await,
        (Method::POST, ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            match read_body(req).await {
                Ok(body) => complete(api, &id, Outcome::Response(body)),
                Err(resp) => {
                    // Lambda fails the invocation when the response is too large.
                    let error = r#"{"errorMessage":"Response payload size exceeded maximum allowed payload size (6291556 bytes).","errorType":"Function.ResponseSizeTooLarge"}"#;
                    let _ = complete(
                        api,
                        &id,
                        Outcome::Error {
                            error_type: "Unhandled".into(),
                            body: Bytes::from_static(error.as_bytes()),
                        },
                    );
                    resp
                }
            }
        }
        (Method::POST, ["invocation", id, "error"]) => {
            let id = (*id).to_owned();
            let error_type = header(&req, "lambda-runtime-function-error-type")
                .unwrap_or_else(|| "Unhandled".into());
            let body = read_body(req).await.unwrap_or_default();
            tracing::debug!(%id, %error_type, "function reported an error");
            complete(
                api,
                &id,
                Outcome::Error {
                    error_type: "Unhandled".into(),
                    body,
                },
            )
        }
        (Method::POST, ["init", "error"]) => {
            let error_type = header(&req, "lambda-runtime-function-error-type").unwrap_or_default();
            let body = read_body(req).await.unwrap_or_default();
            let message = format!("{error_type} {}", String::from_utf8_lossy(&body));
            tracing::error!(arn = %api.arn, error = %message, "function init failed");
            *api.init_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(message);
            accepted()
        }
        _ => runtime_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown runtime API path",
        ),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Full<Bytes>>> {
    match Limited::new(req.into_body(), MAX_PAYLOAD).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            "payload too large",
        )),
    }
}

async fn next_invocation(api: &RuntimeApi) -> Response<Full<Bytes>> {
    {
        let mut first = api.first_next.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(Instant::now());
        }
    }
    let pending = api.next.lock().await.recv().await;
    let Some(p) = pending else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            "shutting down",
        );
    };
    *api.inflight.lock().unwrap_or_else(|e| e.into_inner()) = Some((p.request_id.clone(), p.reply));
    let mut resp = Response::new(Full::new(p.payload));
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json".into());
    set("lambda-runtime-aws-request-id", p.request_id);
    set("lambda-runtime-deadline-ms", p.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", api.arn.clone());
    set("lambda-runtime-trace-id", p.trace_id);
    resp
}

fn complete(api: &RuntimeApi, id: &str, outcome: Outcome) -> Response<Full<Bytes>> {
    let mut inflight = api.inflight.lock().unwrap_or_else(|e| e.into_inner());
    match inflight.take() {
        Some((current, reply)) if current == id => {
            let _ = reply.send(outcome);
            accepted()
        }
        other => {
            *inflight = other;
            runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                "Invalid request ID",
            )
        }
    }
}
