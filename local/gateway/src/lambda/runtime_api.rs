//! The Lambda runtime API (`/2018-06-01/runtime/...`) one execution environment talks to:
//! `GET invocation/next` hands out the pending invocation, `POST invocation/<id>/response` and
//! `.../error` answer it, `POST init/error` reports a failed init. One server per instance, on its
//! own loopback port, as each Lambda sandbox has its own endpoint.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::MAX_PAYLOAD;

/// What the runtime answered for one invocation.
pub(super) enum Outcome {
    Response(Bytes),
    Error { error_type: String, body: Bytes },
}

pub(super) struct Pending {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u128,
    pub trace_id: String,
    pub reply: oneshot::Sender<Outcome>,
}

/// State shared between an instance and its runtime API server.
pub(super) struct RuntimeApi {
    arn: String,
    next: Mutex<mpsc::Receiver<Pending>>,
    inflight: StdMutex<Option<(String, oneshot::Sender<Outcome>)>>,
    init_error: StdMutex<Option<String>>,
    first_next: StdMutex<Option<Instant>>,
}

/// A running runtime API: where the runtime finds it, and how to hand it work.
pub(super) struct Endpoint {
    pub addr: SocketAddr,
    pub tx: mpsc::Sender<Pending>,
    pub api: Arc<RuntimeApi>,
    pub server: JoinHandle<()>,
}

impl Endpoint {
    /// Listens on a free loopback port for the instance of function `arn`.
    pub async fn start(arn: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(1);
        let api = Arc::new(RuntimeApi {
            arn: arn.to_owned(),
            next: Mutex::new(rx),
            inflight: StdMutex::new(None),
            init_error: StdMutex::new(None),
            first_next: StdMutex::new(None),
        });
        let server = tokio::spawn(serve_runtime_api(listener, api.clone()));
        Ok(Self {
            addr,
            tx,
            api,
            server,
        })
    }
}

impl RuntimeApi {
    /// What the runtime reported through `init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.init_error)
    }

    /// When the runtime first asked for work (the end of its init phase).
    pub fn first_next(&self) -> Option<Instant> {
        lock(&self.first_next)
    }
}

fn lock<T: Clone>(m: &StdMutex<T>) -> T {
    m.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

async fn serve_runtime_api(listener: TcpListener, api: Arc<RuntimeApi>) {
    crate::server::serve_http1(listener, std::future::pending(), move |req, peer| {
        let api = api.clone();
        async move {
            // Only the function's own runtime client: a web page could otherwise take the next
            // event, bearer token and all, or answer it.
            match crate::server::not_from_a_local_tool(&req, peer) {
                Some(why) => runtime_error(StatusCode::FORBIDDEN, "Forbidden", why),
                None => runtime_route(&api, req).await,
            }
        }
    })
    .await;
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
