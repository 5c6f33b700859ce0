//! What only local tools may call on the gateway port: the Lambda API (`/2015-03-31/`: Invoke
//! here, the functions and the event source mappings in [`super::lambda_api`]) and the
//! `/_local/` admin API (health, metrics, the dashboard), behind a check that the caller is a
//! tool on this machine.

use super::*;

/// The Lambda API and `/_local/*` change state and have no authorizer: only a tool on
/// this machine (curl, the AWS CLI, make) may call them. A web page open in the developer's
/// browser could otherwise reach them, with a simple cross-origin POST (browsers always send
/// `Origin` then; curl and the AWS CLI never do) or by DNS rebinding (its own name resolving to
/// 127.0.0.1, which the browser sends as `Host`). So: no `Origin`, and a loopback `Host`.
pub(super) fn refuse_unless_local_tool(
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Option<Response<Full<Bytes>>> {
    let why = not_from_a_local_tool(req, peer)?;
    tracing::warn!(path = %req.uri().path(), why, "refused a request to the local control API");
    let mut resp = apigw::gateway_error(StatusCode::FORBIDDEN, "Forbidden");
    resp.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    Some(resp)
}

/// Why `req` is not from a tool on this machine, or `None` when it is: a loopback peer, no
/// `Origin` (browsers always send one cross-origin; curl, the AWS CLI and runtime clients never
/// do) and a loopback `Host` (not a DNS-rebinding page's name). The one rule for every listener
/// that takes no browser: the control APIs here and each function instance's runtime API.
pub(crate) fn not_from_a_local_tool(
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Option<&'static str> {
    if !peer.ip().is_loopback() {
        return Some("the peer is not on this machine");
    }
    if req.headers().contains_key(http::header::ORIGIN) {
        return Some("the request has an Origin header (sent by a browser)");
    }
    match request_host(req) {
        Some(host) if is_loopback_host(&host) => None,
        Some(_) => Some("the Host header is not a loopback name"),
        None => Some("the request has no Host header"),
    }
}

/// Any request, to any route: from a loopback peer (whatever `Host` says), to a loopback `Host`
/// (a DNS-rebinding page sends its own name), and with no `Origin` but this gateway's own
/// (`http://127.0.0.1:<port>`, `http://localhost:<port>`, `http://[::1]:<port>`), which is what a
/// page the gateway itself serves sends. The HTTP API then still needs a token; the control
/// API also refuses its own origin ([`refuse_unless_local_tool`]).
pub(super) fn refuse_unless_local(
    req: &Request<Incoming>,
    peer: SocketAddr,
) -> Option<Response<Full<Bytes>>> {
    let refuse = |why: &str| {
        tracing::warn!(path = %req.uri().path(), %peer, why, "refused a request that is not local");
        Some(apigw::gateway_error(StatusCode::FORBIDDEN, "Forbidden"))
    };
    if !peer.ip().is_loopback() {
        return refuse("the peer is not on this machine");
    }
    let host = request_host(req);
    let Some(host) = host.filter(|h| is_loopback_host(h)) else {
        return refuse("the Host header is not a loopback name");
    };
    match req.headers().get(http::header::ORIGIN).map(|o| o.to_str()) {
        None => None,
        Some(Ok(origin)) if is_same_origin(origin, &host) => None,
        Some(_) => refuse("the request comes from another site (Origin)"),
    }
}

/// `origin` is `http://<host>` for the loopback `host` the request was sent to.
fn is_same_origin(origin: &str, host: &str) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

pub(super) fn request_host(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
}

/// `127.0.0.1`, `localhost` or `[::1]`, each with an optional `:port`.
pub fn is_loopback_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) => (ip, port),
            None => return false,
        },
        None => host.find(':').map_or((host, ""), |i| host.split_at(i)),
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    let name_ok = if host.starts_with('[') {
        name == "::1"
    } else {
        name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost")
    };
    port_ok && name_ok
}

pub(super) fn admin(
    gw: &Gateway,
    method: &Method,
    path: &str,
    query: &str,
) -> Response<Full<Bytes>> {
    match (method, path) {
        (&Method::GET, "health") => json_response(StatusCode::OK, json!({"status": "ok"})),
        (&Method::GET, "dashboard") => {
            let mut resp = Response::new(Full::new(Bytes::from_static(DASHBOARD_PAGE.as_bytes())));
            let h = resp.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            // Our own inline script and style only; fetches to this origin only.
            h.insert(
                http::header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
                ),
            );
            h.insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            resp
        }
        (&Method::GET, "metrics") => metrics_data(gw, query),
        // The event source mappings are the Lambda API's (`aws lambda
        // list-event-source-mappings` / `update-event-source-mapping`), not a second model here.
        _ => json_response(StatusCode::NOT_FOUND, json!({"message": "Not Found"})),
    }
}

/// `GET /_local/metrics?range=<seconds>&period=<seconds>`: the dashboard's data (range 60 s to
/// 3 h, default 900; period default automatic). Bad parameters are a 400 problem.
fn metrics_data(gw: &Gateway, query: &str) -> Response<Full<Bytes>> {
    let mut range = 900;
    let mut period = None;
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        let parsed = v.parse::<u64>().ok();
        match (k, parsed) {
            ("range", Some(r)) if (60..=crate::metrics::RETENTION_SECS).contains(&r) => range = r,
            ("period", Some(p)) if (1..=3600).contains(&p) => period = Some(p),
            ("range" | "period", _) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    &format!("{k} must be a number of seconds (range 60..=10800, period 1..=3600)"),
                );
            }
            _ => {}
        }
    }
    let period = period.unwrap_or_else(|| crate::monitoring::auto_period(range));
    let body = crate::monitoring::snapshot(
        &gw.dashboard,
        gw.lambda.recorder(),
        range,
        period,
        now_ms() / 1000,
        gw.started,
    );
    let mut resp = json_response(StatusCode::OK, body);
    resp.headers_mut().insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

fn problem(status: StatusCode, detail: &str) -> Response<Full<Bytes>> {
    let mut resp = json_response(
        status,
        json!({"type": "about:blank", "title": status.canonical_reason().unwrap_or_default(), "status": status.as_u16(), "detail": detail}),
    );
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// An error of the Lambda API: its type in `x-amzn-errortype`, the body Lambda sends.
pub(super) fn lambda_error(
    status: StatusCode,
    kind: &str,
    message: String,
) -> Response<Full<Bytes>> {
    let mut resp = json_response(status, json!({ "Type": "User", "message": message }));
    if let Ok(v) = HeaderValue::from_str(kind) {
        resp.headers_mut().insert("x-amzn-errortype", v);
    }
    resp
}

/// The function a `FunctionName` names: a bare name, `name:qualifier`, a partial ARN
/// (`123456789012:function:name`) or a full one, qualified or not. The local Lambda has one
/// version of each function, which any qualifier names.
pub(super) fn function_name(name: &str) -> &str {
    let name = name
        .rsplit_once(":function:")
        .map(|(_, n)| n)
        .unwrap_or(name);
    name.split(':').next().unwrap_or(name)
}

/// Lambda's answer for a function it does not have.
pub(super) fn function_not_found(name: &str) -> Response<Full<Bytes>> {
    lambda_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {}", crate::lambda::function_arn(name)),
    )
}

/// The Lambda Invoke API, enough for `aws lambda invoke` and SDK clients
/// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
pub(super) async fn invoke_api(
    gw: &Gateway,
    req: Request<Incoming>,
    name: &str,
) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return lambda_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "use POST".into(),
        );
    }
    let name = function_name(name).to_owned();
    if !gw.lambda.contains(&name) {
        return function_not_found(&name);
    }
    let kind = req
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    let payload = match Limited::new(req.into_body(), MAX_PAYLOAD).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return lambda_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestTooLargeException",
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
                    .into(),
            );
        }
    };
    let payload = if payload.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        payload
    };
    match kind.as_str() {
        "DryRun" => {
            return Response::builder()
                .status(204)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default();
        }
        "Event" => {
            let lambda = gw.lambda.clone();
            tokio::spawn(async move {
                if let Err(e) = lambda.invoke(&name, payload).await {
                    tracing::warn!(function = %name, error = %e, "asynchronous invocation failed");
                }
            });
            return Response::builder()
                .status(202)
                .body(Full::new(Bytes::new()))
                .unwrap_or_default();
        }
        _ => {}
    }
    let mut resp = match gw.lambda.invoke(&name, payload).await {
        Ok(inv) => {
            let mut resp = Response::new(Full::new(inv.payload));
            if let Some(e) = &inv.function_error
                && let Ok(v) = HeaderValue::from_str(e)
            {
                resp.headers_mut().insert("x-amz-function-error", v);
            }
            if let Ok(v) = HeaderValue::from_str(&inv.request_id) {
                resp.headers_mut().insert("x-amzn-requestid", v);
            }
            resp
        }
        Err(e) if e.is_function_failure() => {
            let mut resp = json_response(
                StatusCode::OK,
                json!({ "errorType": e.error_type(), "errorMessage": e.to_string() }),
            );
            resp.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            resp
        }
        Err(e @ InvokeError::Throttled(_)) => {
            lambda_error(StatusCode::TOO_MANY_REQUESTS, e.error_type(), e.to_string())
        }
        Err(e) => lambda_error(StatusCode::BAD_REQUEST, e.error_type(), e.to_string()),
    };
    resp.headers_mut().insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn a_function_name_may_be_a_name_an_arn_or_qualified() {
        use super::function_name;
        for name in [
            "echo",
            "echo:live",
            "echo:$LATEST",
            "123456789012:function:echo",
            "arn:aws:lambda:us-east-1:123456789012:function:echo",
            "arn:aws:lambda:eu-west-3:123456789012:function:echo:7",
        ] {
            assert_eq!(function_name(name), "echo", "{name}");
        }
    }

    #[test]
    fn only_the_gateways_own_origin_is_same_origin() {
        use super::is_same_origin;
        assert!(is_same_origin("http://127.0.0.1:3000", "127.0.0.1:3000"));
        assert!(is_same_origin("http://LOCALHOST:3000", "localhost:3000"));
        for (origin, host) in [
            ("http://127.0.0.1:3001", "127.0.0.1:3000"),
            ("https://127.0.0.1:3000", "127.0.0.1:3000"),
            ("http://evil.example", "127.0.0.1:3000"),
            ("null", "127.0.0.1:3000"),
            ("http://localhost:3000", "127.0.0.1:3000"),
        ] {
            assert!(!is_same_origin(origin, host), "{origin} {host}");
        }
    }

    #[test]
    fn only_loopback_names_are_local() {
        for host in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:3000",
            "[::1]",
            "[::1]:3000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "",
            "evil.example",
            "evil.example:3000",
            "localhost.evil.example",
            "127.0.0.1.nip.io:3000",
            "127.0.0.2:3000",
            "0.0.0.0:3000",
            "[::1",
            "[::2]:3000",
            "127.0.0.1:",
            "127.0.0.1:30a0",
            "127.0.0.1:3000:1",
            "localhost:3000@evil.example",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
