//! The Lambda service: every configured function by name, each behind an [`Invoker`].
//!
//! Three invokers exist: [`SpawnedFunction`] runs the function's `bootstrap` as Lambda does
//! (its own runtime API per instance, on-demand instances up to a concurrency limit, timeouts,
//! crash replacement; [`Invocation`] reports the init duration of cold starts, so benchmarks
//! can measure exec-to-first-answer), and [`crate::watch`] wraps it for debug builds rebuilt on
//! save; [`InProcess`] calls the function's handler in this
//! process (no build, no process: tests).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::metrics::Recorder;

mod in_process;
mod process;
mod runtime_api;

pub use in_process::InProcess;
pub use process::SpawnedFunction;
pub(crate) use process::forward_lines;

/// Lambda's synchronous payload limit, for requests and responses alike.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Lambda gives the init phase 10 s, on top of the invocation timeout.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
pub const ACCOUNT_ID: &str = "123456789012";

/// The Region the local stack plays (`AWS_REGION`, as `.local/env` sets it; us-east-1 without).
pub fn region() -> String {
    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())
}

/// The ARN of the function `name` (unqualified: the local Lambda has only `$LATEST`).
pub fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:{}:{ACCOUNT_ID}:function:{name}", region())
}

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
/// invoker (see the module's documentation for the three kinds).
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
    /// longer in watch mode, where a request may wait for a rebuild).
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
                let invoker: Arc<dyn Invoker> =
                    Arc::new(SpawnedFunction::new(cfg, recorder.clone()));
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
