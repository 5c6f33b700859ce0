//! The gateway's HTTP listener: the HTTP API (routes from `openapi.yaml`), the part of the
//! Lambda API the local stack has (`/2015-03-31/`: Invoke, the functions and the event source
//! mappings, for `aws lambda ... --endpoint-url`) and a small local admin API under `/_local/`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::apigw::{self, EventContext, IncomingRequest};
use crate::authorizer::Authorizer;
use crate::config::GatewayConfig;
use crate::esm::EventSourceMapping;
use crate::lambda::{FunctionConfig, InvokeError, LambdaService, MAX_PAYLOAD};
use crate::metrics::{MetricId, now_ms};
use crate::monitoring::{Dashboard, Definition, Deployment};
use crate::openapi::{Auth, Routes};

mod control;
mod lambda_api;

pub use control::is_loopback_host;
pub(crate) use control::not_from_a_local_tool;
use control::{admin, refuse_unless_local, refuse_unless_local_tool};
use lambda_api::lambda_api;

/// HTTP APIs wait at most 30 s for an integration, then answer 503. A function that times
/// out before that is a Lambda error, which API Gateway answers with a 500.
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(30);

/// API Gateway's request payload limit.
pub const MAX_REQUEST: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    OpenApi(#[from] crate::openapi::OpenApiError),
    #[error("binding {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("watch mode: {0}")]
    Watch(std::io::Error),
    #[error("route {route} targets function {function}, which the gateway config does not define")]
    UnknownFunction { route: String, function: String },
    #[error("the web client's {0}: {1}")]
    Web(String, std::io::Error),
    #[error(
        "listen {0}: the local gateway listens on a loopback address only (127.0.0.1 or [::1]): it has no TLS, and its control API trusts the machine"
    )]
    NotLoopback(SocketAddr),
}

struct Gateway {
    routes: Routes,
    authorizer: Authorizer,
    lambda: LambdaService,
    /// What the config says of each function (memory, timeout, bootstrap), for the Lambda API.
    functions: BTreeMap<String, FunctionConfig>,
    mappings: Vec<EventSourceMapping>,
    api_id: String,
    dashboard: Dashboard,
    /// The web client and the local managed login (`web:` in the config).
    web: Option<crate::web::Web>,
    /// Seconds since the epoch.
    started: u64,
}

/// The page `/_local/dashboard` (our own HTML, CSS, JS and SVG: nothing from a CDN).
const DASHBOARD_PAGE: &str = include_str!("dashboard.html");

/// A started gateway. Call [`RunningGateway::shutdown`] to stop it and its function instances.
pub struct RunningGateway {
    pub addr: SocketAddr,
    pub lambda: LambdaService,
    gateway: Arc<Gateway>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningGateway {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for m in &self.gateway.mappings {
            m.stop();
        }
        let _ = self.task.await;
        self.lambda.shutdown().await;
    }
}

/// Starts the gateway: loads the routes, starts the event source mappings and listens. The
/// functions run as `cfg` says: their built bootstraps, or debug builds rebuilt on save.
pub async fn start(cfg: GatewayConfig) -> Result<RunningGateway, StartError> {
    let lambda = match &cfg.watch {
        Some(watch) => crate::watch::service(&cfg.functions, watch).map_err(StartError::Watch)?,
        None => LambdaService::new(cfg.functions.clone()),
    };
    start_with(cfg, lambda).await
}

/// [`start`] with the functions run by `lambda` (e.g. [`crate::InProcess`] invokers); `cfg`'s
/// functions then only name the functions and their environment for the dashboard.
pub async fn start_with(
    cfg: GatewayConfig,
    lambda: LambdaService,
) -> Result<RunningGateway, StartError> {
    let routes = Routes::load(&cfg.openapi)?;
    for r in routes.all() {
        if !lambda.contains(&r.function) {
            return Err(StartError::UnknownFunction {
                route: r.key(),
                function: r.function.clone(),
            });
        }
    }
    if !cfg.listen.ip().is_loopback() {
        return Err(StartError::NotLoopback(cfg.listen));
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| StartError::Bind(cfg.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(cfg.listen, e))?;
    let mappings = cfg
        .event_source_mappings
        .iter()
        .map(|m| EventSourceMapping::start(m.clone(), lambda.clone()))
        .collect();
    let web = cfg
        .web
        .clone()
        .map(|w| {
            let csp = w.csp_file.display().to_string();
            crate::web::Web::new(w).map_err(|e| StartError::Web(csp, e))
        })
        .transpose()?;
    let (deployment, queues) = local_deployment(&cfg);
    let gateway = Arc::new(Gateway {
        routes,
        authorizer: Authorizer::new(cfg.authorizer.clone()),
        lambda: lambda.clone(),
        functions: cfg
            .functions
            .iter()
            .map(|f| (f.name.clone(), f.clone()))
            .collect(),
        mappings,
        api_id: cfg.api_id.clone(),
        dashboard: Dashboard::render(&Definition::builtin(), &deployment),
        web,
        started: now_ms() / 1000,
    });
    let (stop, mut stopped) = watch::channel(false);
    crate::sampler::spawn(lambda.clone(), queues, stopped.clone());
    let gw = gateway.clone();
    let task = tokio::spawn(serve_http1(
        listener,
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        },
        move |req, peer| {
            let gw = gw.clone();
            async move { handle(&gw, req, peer).await }
        },
    ));
    Ok(RunningGateway {
        addr,
        lambda,
        gateway,
        stop,
        task,
    })
}

/// The accept loop of the gateway's listener and of every runtime API: each connection is served
/// (HTTP/1.1, no Nagle delay) on its own task by `answer`, which also gets the peer address,
/// until `shutdown` completes. A failed accept is skipped.
pub(crate) async fn serve_http1<F, Fut>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    answer: F,
) where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = &mut shutdown => return,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let answer = answer.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let reply = answer(req, peer);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// What the definition's `$tokens` are locally: the gateway's API id and functions, the
/// mapping's queue, the SQS dead-letter queue the consumer writes to (its `DLQ_URL`).
fn local_deployment(cfg: &GatewayConfig) -> (Deployment, crate::sampler::Queues) {
    let esm = cfg.event_source_mappings.first();
    let dlq_url = cfg
        .functions
        .iter()
        .find_map(|f| f.env.get("DLQ_URL"))
        .filter(|u| u.starts_with("http"))
        .cloned();
    let dlq = dlq_url
        .as_deref()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or("billing-dlq")
        .to_owned();
    let queue = esm.map_or_else(|| "billing_queue".to_owned(), |m| m.queue.clone());
    let deployment = Deployment {
        api_id: cfg.api_id.clone(),
        functions: cfg
            .functions
            .iter()
            .map(|f| (f.name.clone(), f.name.clone()))
            .collect(),
        broker: "local".into(),
        queue: queue.clone(),
        dlq: dlq.clone(),
        // RDS is not emulated: its widgets and alarms show as AWS only; no proxy, as in dev.
        db_instance: Some("local".into()),
        db_proxy: None,
    };
    let queues = crate::sampler::Queues {
        amqp_url: esm.map(|m| m.amqp_url.clone()),
        broker: "local".into(),
        queue,
        dlq_url,
        dlq,
    };
    (deployment, queues)
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A path of the Lambda API (API version 2015-03-31), known operation or not.
fn is_lambda_api(path: &str) -> bool {
    path.strip_prefix("/2015-03-31")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The Lambda API and `/_local/`: what changes state or tells how the stack runs, for local
/// tools only. The whole API version, so that an operation added later cannot slip past the
/// guard.
fn is_control_path(path: &str) -> bool {
    is_lambda_api(path) || path.starts_with("/_local/")
}

async fn handle(gw: &Gateway, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    // Every request: from this machine, to a loopback name, from no other site (a web page open
    // in the developer's browser may send the request, never read or steer it). The control
    // APIs take no browser at all.
    let refused = if is_control_path(&path) {
        refuse_unless_local_tool(&req, peer)
    } else {
        refuse_unless_local(&req, peer)
    };
    if let Some(refused) = refused {
        return refused;
    }
    if is_lambda_api(&path) {
        return lambda_api(gw, req).await;
    }
    if let Some(rest) = path.strip_prefix("/_local/") {
        return admin(
            gw,
            req.method(),
            rest,
            req.uri().query().unwrap_or_default(),
        );
    }
    if let Some(web) = &gw.web {
        let host = control::request_host(&req).unwrap_or_default();
        if let Some(rest) = path.strip_prefix(crate::web::LOGIN_PREFIX) {
            let method = req.method().clone();
            let query = req.uri().query().unwrap_or_default().to_owned();
            let Ok(form) = Limited::new(req.into_body(), 64 * 1024).collect().await else {
                return apigw::gateway_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request Entity Too Large",
                );
            };
            return web
                .login(&method, rest, &query, &form.to_bytes(), &host)
                .await;
        }
        if !is_http_api_path(&path) {
            return web.file(req.method(), &path, &host);
        }
    }
    http_api(gw, req, peer).await
}

/// What CloudFront sends to the HTTP API (`/api/*`; `/health` too, locally): every other path is
/// the web client's, from S3.
fn is_http_api_path(path: &str) -> bool {
    ["/api", "/health"].iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|r| r.is_empty() || r.starts_with('/'))
    })
}

async fn http_api(gw: &Gateway, req: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = apigw::request_id();
    let method = req.method().as_str().to_owned();
    let raw_path = req.uri().path().to_owned();
    let mut resp = http_api_inner(gw, req, peer, &request_id).await;
    // What API Gateway publishes per request (AWS/ApiGateway, dimension ApiId): Count, 4xx and
    // 5xx as 0 or 1 (Average is the error rate), Latency in ms.
    let rec = gw.lambda.recorder();
    let status = resp.status().as_u16();
    let m = |name: &str| MetricId::new("AWS/ApiGateway", name, &[("ApiId", &gw.api_id)]);
    rec.put(m("Count"), 1.0);
    rec.put(m("4xx"), f64::from(u8::from((400..500).contains(&status))));
    rec.put(m("5xx"), f64::from(u8::from(status >= 500)));
    rec.put(m("Latency"), started.elapsed().as_secs_f64() * 1000.0);
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("apigw-requestid", v);
    }
    tracing::info!(
        target: "access",
        request_id = %request_id,
        method = %method,
        path = %raw_path,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

async fn http_api_inner(
    gw: &Gateway,
    req: Request<Incoming>,
    peer: SocketAddr,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let Some((route, path_parameters)) = gw.routes.find(req.method().as_str(), req.uri().path())
    else {
        return apigw::gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let authorizer = match &route.auth {
        Auth::None => None,
        Auth::Jwt { scopes } => {
            let header = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            match gw.authorizer.authorize(header, scopes).await {
                Ok(v) => Some(v),
                Err(e) => {
                    let (status, message) = if e.status() == 403 {
                        (StatusCode::FORBIDDEN, "Forbidden")
                    } else {
                        (StatusCode::UNAUTHORIZED, "Unauthorized")
                    };
                    tracing::info!(%request_id, reason = %e, "authorizer denied the request");
                    let mut resp = apigw::gateway_error(status, message);
                    if let Ok(v) = HeaderValue::from_str(&e.www_authenticate()) {
                        resp.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
                    }
                    return resp;
                }
            }
        }
    };
    let route_key = route.key();
    let function = route.function.clone();
    let route_has_scopes = matches!(&route.auth, Auth::Jwt { scopes } if !scopes.is_empty());
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return apigw::gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let incoming = IncomingRequest {
        method: parts.method.as_str().to_owned(),
        raw_path: parts.uri.path().to_owned(),
        raw_query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
        source_ip: peer.ip().to_string(),
        protocol: format!("{:?}", parts.version),
    };
    let ctx = EventContext {
        route_key,
        path_parameters,
        authorizer,
        route_has_scopes,
        request_id: request_id.to_owned(),
        time_epoch_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64,
        api_id: gw.api_id.clone(),
    };
    let event = apigw::build_event(&incoming, &ctx);
    let invoke = gw.lambda.invoke(&function, Bytes::from(event.to_string()));
    let integration_timeout = gw.lambda.integration_timeout(&function);
    let integration = Instant::now();
    let invoked = tokio::time::timeout(integration_timeout, invoke).await;
    gw.lambda.recorder().put(
        MetricId::new(
            "AWS/ApiGateway",
            "IntegrationLatency",
            &[("ApiId", &gw.api_id)],
        ),
        integration.elapsed().as_secs_f64() * 1000.0,
    );
    let Ok(invoked) = invoked else {
        tracing::error!(%request_id, %function, "no answer within the integration timeout");
        return apigw::gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    };
    match invoked {
        Ok(inv) if inv.function_error.is_none() => match apigw::map_response(&inv.payload) {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(%request_id, %function, error = %e, "the function's answer could not be mapped");
                apigw::gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        },
        Ok(inv) => {
            tracing::error!(%request_id, %function, error = %String::from_utf8_lossy(&inv.payload), "the function failed");
            apigw::gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        // "If the Lambda API rejects the invocation request, API Gateway returns a 500 error
        // code" (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html):
        // a throttled function is a 500 for the client, and a Throttles datapoint.
        Err(e @ InvokeError::Throttled(_)) => {
            tracing::warn!(%request_id, %function, error = %e, "throttled");
            apigw::gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Err(e) => {
            tracing::error!(%request_id, %function, error = %e, "the invocation failed");
            apigw::gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_control_path, is_lambda_api};

    #[test]
    fn every_lambda_api_path_is_behind_the_local_tool_guard() {
        for path in [
            "/2015-03-31",
            "/2015-03-31/",
            "/2015-03-31/functions/",
            "/2015-03-31/functions/echo/invocations",
            "/2015-03-31/functions/echo/configuration",
            "/2015-03-31/event-source-mappings/",
            "/2015-03-31/event-source-mappings/0b1c",
            "/2015-03-31/no-such-operation",
        ] {
            assert!(is_lambda_api(path), "{path}");
            assert!(is_control_path(path), "{path}");
        }
        for path in ["/_local/health", "/_local/metrics", "/_local/dashboard"] {
            assert!(is_control_path(path), "{path}");
            assert!(!is_lambda_api(path), "{path}");
        }
        for path in [
            "/health",
            "/api/movies",
            "/2015-03-310",
            "/2015-03-31x/functions/",
        ] {
            assert!(!is_control_path(path), "{path}");
        }
    }
}
