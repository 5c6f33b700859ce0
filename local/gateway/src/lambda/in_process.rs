//! The third kind of [`Invoker`]: the function's handler called in this process. No build, no
//! process, no runtime API: the payload goes through the same `lambda_runtime` types the
//! function's `main` hands to `lambda_runtime::run` (or, for an HTTP function, the same
//! `lambda_http` adapter `lambda_http::run` wraps the router in), so the event and response
//! shapes are the deployed ones. Tests use it to drive the gateway and the event source mapping
//! without release builds.

use std::fmt::Display;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures::future::BoxFuture;
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::{Service, ServiceExt};

use super::{Invocation, InvokeError, Invoker};

type Handler = dyn Fn(Bytes) -> BoxFuture<'static, Result<Bytes, Bytes>> + Send + Sync;

/// A function whose handler runs in this process, one invocation per call (no concurrency
/// limit, no cold start: [`Invocation::init_duration`] is always `None`).
pub struct InProcess {
    handler: Arc<Handler>,
    running: Arc<AtomicUsize>,
}

impl InProcess {
    /// `service` is what the function's `main` passes to `lambda_runtime::run`: a
    /// `Service<LambdaEvent<E>>`. A payload that is not an `E`, or a handler error, is the
    /// function error Lambda would report (`{"errorType", "errorMessage"}`).
    pub fn new<S, E, R>(service: S) -> Self
    where
        S: Service<LambdaEvent<E>, Response = R> + Clone + Send + 'static,
        S::Error: Display,
        S::Future: Send,
        E: DeserializeOwned + Send + 'static,
        R: Serialize,
    {
        // A router is Send but not Sync: each invocation takes a clone out of the mutex.
        let service = std::sync::Mutex::new(service);
        let handler = move |payload: Bytes| -> BoxFuture<'static, Result<Bytes, Bytes>> {
            let service = service.lock().unwrap_or_else(|p| p.into_inner()).clone();
            Box::pin(async move {
                let event: E = serde_json::from_slice(&payload)
                    .map_err(|e| error_document("Runtime.UnmarshalError", &e))?;
                let answer = service
                    .oneshot(LambdaEvent::new(event, Context::default()))
                    .await
                    .map_err(|e| error_document("Unhandled", &e))?;
                serde_json::to_vec(&answer)
                    .map(Bytes::from)
                    .map_err(|e| error_document("Runtime.MarshalError", &e))
            })
        };
        Self {
            handler: Arc::new(handler),
            running: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// An HTTP function: `service` (its axum router, with any layers) is what its `main` passes
    /// to `lambda_http::run`, and the payload an API Gateway event, as
    /// [`crate::apigw::build_event`] builds it.
    pub fn http<S, R, E>(service: S) -> Self
    where
        S: Service<lambda_http::Request, Response = R, Error = E> + Clone + Send + 'static,
        S::Future: Send + 'static,
        R: lambda_http::IntoResponse + 'static,
        E: Display + 'static,
    {
        use lambda_http::request::LambdaRequest;
        Self::new(tower::service_fn(
            move |event: LambdaEvent<LambdaRequest>| {
                // `lambda_http::run`'s own adapter; it is not Send, its future is: one per call.
                let mut adapter = lambda_http::Adapter::from(service.clone());
                adapter.call(event)
            },
        ))
    }
}

fn error_document(error_type: &str, error: &dyn Display) -> Bytes {
    let body = serde_json::json!({ "errorType": error_type, "errorMessage": error.to_string() });
    Bytes::from(body.to_string())
}

impl Invoker for InProcess {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>> {
        Box::pin(async move {
            let started = Instant::now();
            self.running.fetch_add(1, Ordering::SeqCst);
            // Its own task, so a panicking handler is a crashed invocation, not a crashed test.
            let outcome = tokio::spawn((self.handler)(payload)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            let (payload, function_error) = match outcome {
                Ok(Ok(answer)) => (answer, None),
                Ok(Err(document)) => (document, Some("Unhandled".to_owned())),
                Err(e) => return Err(InvokeError::Crashed(e.to_string())),
            };
            Ok(Invocation {
                request_id: uuid::Uuid::new_v4().to_string(),
                payload,
                function_error,
                init_duration: None,
                total: started.elapsed(),
            })
        })
    }

    fn instances(&self) -> usize {
        1
    }

    fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    fn stop_idle(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
