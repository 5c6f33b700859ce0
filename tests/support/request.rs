//! Requests for a function's axum `Router` in-process (`oneshot`, no socket), as API Gateway's
//! HTTP API hands them over through `lambda_http`: the JWT authorizer's claims ride in the
//! request context, in the request's extensions where `lambda_http` puts it. The tests and the
//! bench build their requests here.

use lambda_http::request::RequestContext;
use serde_json::{Value, json};

/// The claims API Gateway's JWT authorizer passes for a Cognito user access token from
/// `InitiateAuth`, as strings: `groups` is `cognito:groups` flattened as API Gateway sends it
/// (`"[admin user]"`), absent when `None`.
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html>
pub fn user_claims(sub: &str, username: &str, groups: Option<&str>) -> Value {
    let mut claims = json!({
        "sub": sub,
        "username": username,
        "client_id": "local-client",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
    });
    if let Some(groups) = groups {
        claims["cognito:groups"] = json!(groups);
    }
    claims
}

/// The payload 2.0 request context with `claims` under `authorizer.jwt.claims`.
pub fn request_context(claims: Value) -> RequestContext {
    let ctx = json!({
        "routeKey": "$default",
        "accountId": local_gateway::lambda::ACCOUNT_ID,
        "stage": "$default",
        "requestId": uuid::Uuid::new_v4().to_string(),
        "apiId": "local",
        "domainName": "127.0.0.1",
        "timeEpoch": 0,
        "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "local"},
        "authorizer": {"jwt": {"claims": claims, "scopes": null}},
    });
    RequestContext::ApiGatewayV2(
        // A fixed shape: every test through here would catch a mistake in it.
        serde_json::from_value(ctx).expect("a valid API Gateway v2 request context"),
    )
}

/// A request for a Router: `body` as JSON (with its content type), extra `headers`, and the
/// authorizer's `context`.
pub fn request<M>(
    method: M,
    uri: &str,
    body: Option<String>,
    headers: &[(&str, &[u8])],
    context: Option<RequestContext>,
) -> Result<http::Request<axum::body::Body>, http::Error>
where
    http::Method: TryFrom<M>,
    <http::Method as TryFrom<M>>::Error: Into<http::Error>,
{
    let mut builder = http::Request::builder().method(method).uri(uri);
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        builder = builder.header(*name, http::HeaderValue::from_bytes(value)?);
    }
    let mut request = builder.body(axum::body::Body::from(body.unwrap_or_default()))?;
    if let Some(context) = context {
        request.extensions_mut().insert(context);
    }
    Ok(request)
}

/// Sends `request` to `router` in-process (a Router never fails: its errors are responses).
pub async fn oneshot(
    router: &axum::Router,
    request: http::Request<axum::body::Body>,
) -> axum::response::Response {
    use tower::ServiceExt;
    match router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_router_sees_the_claims_lambda_http_would_pass() {
        use lambda_http::RequestExt;
        let router = axum::Router::new().route(
            "/who",
            axum::routing::post(|req: http::Request<axum::body::Body>| async move {
                let ctx = req.request_context_ref().cloned();
                let claims = match ctx {
                    Some(RequestContext::ApiGatewayV2(c)) => c
                        .authorizer
                        .and_then(|a| a.jwt)
                        .map(|j| j.claims)
                        .unwrap_or_default(),
                    _ => Default::default(),
                };
                let ct = req.headers().get("content-type").cloned();
                format!(
                    "{} {} {:?} {:?}",
                    claims.get("sub").cloned().unwrap_or_default(),
                    claims.get("cognito:groups").cloned().unwrap_or_default(),
                    ct,
                    req.headers().get("idempotency-key"),
                )
            }),
        );
        let context = request_context(user_claims("sub-1", "alice", Some("[admin user]")));
        let req = request(
            "POST",
            "/who",
            Some("{}".into()),
            &[("idempotency-key", b"k1")],
            Some(context),
        )
        .unwrap();
        let response = oneshot(&router, req).await;
        assert_eq!(response.status(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"sub-1 [admin user] Some("application/json") Some("k1")"#
        );
        assert!(request("GET", "/", None, &[("bad", b"\n")], None).is_err());
        let no_groups = user_claims("s", "u", None);
        assert!(no_groups.get("cognito:groups").is_none());
    }
}
