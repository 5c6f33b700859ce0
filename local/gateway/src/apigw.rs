//! API Gateway HTTP API payload format 2.0: the event a request becomes, and how a function's
//! answer becomes the HTTP response.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use crate::authorizer::{Verified, flatten_claims};

pub const ACCOUNT_ID: &str = crate::lambda::ACCOUNT_ID;

/// The request as the gateway received it.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub raw_path: String,
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub source_ip: String,
    pub protocol: String,
}

/// What API Gateway adds: the matched route, the authorizer's result, ids and times.
#[derive(Debug, Clone)]
pub struct EventContext {
    pub route_key: String,
    pub path_parameters: BTreeMap<String, String>,
    pub authorizer: Option<Verified>,
    /// Whether the route requires scopes: API Gateway passes `scopes` only then.
    pub route_has_scopes: bool,
    pub request_id: String,
    pub time_epoch_ms: u64,
    pub api_id: String,
}

/// Bodies API Gateway passes as text; everything else (and a body with no content type) is
/// base64-encoded with `isBase64Encoded: true`.
pub fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/graphql"
        )
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
}

/// A request id in API Gateway's shape (`JsQ1AjmdIAMEPvA=`).
pub fn request_id() -> String {
    let id = uuid::Uuid::new_v4();
    B64.encode(&id.as_bytes()[..10])
}

fn decode_query(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

pub fn build_event(req: &IncomingRequest, ctx: &EventContext) -> Value {
    // Headers: names lower-cased, repeated headers joined with commas, cookies moved out.
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies: Vec<String> = Vec::new();
    for (name, value) in &req.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        if name == http::header::COOKIE {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .filter(|c| !c.is_empty()),
            );
            continue;
        }
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or_else(|| "localhost".into());
    let port = host
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .unwrap_or_else(|| "80".into());
    headers
        .entry("x-forwarded-for".into())
        .or_insert_with(|| req.source_ip.clone());
    headers.entry("x-forwarded-port".into()).or_insert(port);
    headers
        .entry("x-forwarded-proto".into())
        .or_insert_with(|| "http".into());
    let trace = format!(
        "Root=1-{:08x}-{}",
        ctx.time_epoch_ms / 1000,
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    );
    headers.entry("x-amzn-trace-id".into()).or_insert(trace);

    let mut query: BTreeMap<String, String> = BTreeMap::new();
    for pair in req.raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        query
            .entry(decode_query(k))
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&decode_query(v));
            })
            .or_insert_with(|| decode_query(v));
    }

    let user_agent = headers.get("user-agent").cloned().unwrap_or_default();
    let domain_prefix = host.split(['.', ':']).next().unwrap_or_default().to_owned();
    let mut request_context = json!({
        "accountId": ACCOUNT_ID,
        "apiId": ctx.api_id,
        "domainName": host,
        "domainPrefix": domain_prefix,
        "http": {
            "method": req.method,
            "path": crate::openapi::route_path(&req.raw_path),
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": user_agent,
        },
        "requestId": ctx.request_id,
        "routeKey": ctx.route_key,
        "stage": "$default",
        "time": crate::time::apigw_time((ctx.time_epoch_ms / 1000) as i64),
        "timeEpoch": ctx.time_epoch_ms,
    });
    if let Some(verified) = &ctx.authorizer {
        let scopes = if ctx.route_has_scopes {
            json!(verified.scopes)
        } else {
            Value::Null
        };
        request_context["authorizer"] = json!({
            "jwt": { "claims": flatten_claims(&verified.claims), "scopes": scopes }
        });
    }

    let mut event = Map::new();
    event.insert("version".into(), json!("2.0"));
    event.insert("routeKey".into(), json!(ctx.route_key));
    event.insert("rawPath".into(), json!(req.raw_path));
    event.insert("rawQueryString".into(), json!(req.raw_query));
    if !cookies.is_empty() {
        event.insert("cookies".into(), json!(cookies));
    }
    event.insert("headers".into(), json!(headers));
    if !query.is_empty() {
        event.insert("queryStringParameters".into(), json!(query));
    }
    event.insert("requestContext".into(), request_context);
    if !ctx.path_parameters.is_empty() {
        event.insert("pathParameters".into(), json!(ctx.path_parameters));
    }
    let text = is_text(headers.get("content-type").map(String::as_str));
    if !req.body.is_empty() {
        let body = match (text, std::str::from_utf8(&req.body)) {
            (true, Ok(s)) => s.to_owned(),
            _ => B64.encode(&req.body),
        };
        event.insert("body".into(), json!(body));
        event.insert(
            "isBase64Encoded".into(),
            json!(!(text && std::str::from_utf8(&req.body).is_ok())),
        );
    } else {
        event.insert("isBase64Encoded".into(), json!(false));
    }
    Value::Object(event)
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MappingError {
    #[error("the function's answer is not JSON")]
    NotJson,
    #[error("the function's answer is malformed: {0}")]
    Malformed(String),
}

/// Maps the function's answer as API Gateway does for payload 2.0: an object with
/// `statusCode` is a structured response; any other valid JSON is a 200 `application/json`
/// whose body is that JSON.
pub fn map_response(payload: &[u8]) -> Result<Response<Full<Bytes>>, MappingError> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| MappingError::NotJson)?;
    let structured = value.as_object().filter(|o| o.contains_key("statusCode"));
    let Some(obj) = structured else {
        let mut resp = Response::new(Full::new(Bytes::copy_from_slice(payload)));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(resp);
    };
    let status = obj
        .get("statusCode")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|c| u16::try_from(c).ok())
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or_else(|| MappingError::Malformed("statusCode is not an HTTP status".into()))?;
    let body = match obj.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) => {
            if obj
                .get("isBase64Encoded")
                .and_then(Value::as_bool)
                .unwrap_or(false)
            {
                Bytes::from(
                    B64.decode(s)
                        .map_err(|e| MappingError::Malformed(format!("body is not base64: {e}")))?,
                )
            } else {
                Bytes::from(s.clone())
            }
        }
        Some(other) => Bytes::from(other.to_string()),
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let mut add = |name: &str, value: &Value| -> Result<(), MappingError> {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Null => return Ok(()),
            other => other.to_string(),
        };
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| MappingError::Malformed(format!("bad header name {name:?}")))?;
        let value = HeaderValue::from_str(&text)
            .map_err(|_| MappingError::Malformed(format!("bad header value for {name}")))?;
        h.append(name, value);
        Ok(())
    };
    if let Some(Value::Object(headers)) = obj.get("headers") {
        for (k, v) in headers {
            add(k, v)?;
        }
    }
    // Payload 2.0 has no multiValueHeaders; honour them anyway for functions written for 1.0.
    if let Some(Value::Object(multi)) = obj.get("multiValueHeaders") {
        for (k, values) in multi {
            if let Value::Array(values) = values {
                for v in values {
                    add(k, v)?;
                }
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for c in cookies {
            add("set-cookie", c)?;
        }
    }
    Ok(resp)
}

/// API Gateway's own error answers: `{"message": "..."}`.
pub fn gateway_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(
        json!({ "message": message }).to_string(),
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
    use http_body_util::BodyExt;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn request(
        method: &str,
        path: &str,
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> IncomingRequest {
        let mut headers = HeaderMap::new();
        headers.insert("Host", HeaderValue::from_static("127.0.0.1:3000"));
        headers.insert("User-Agent", HeaderValue::from_static("curl/8.5.0"));
        headers.append("X-Multi", HeaderValue::from_static("a"));
        headers.append("X-Multi", HeaderValue::from_static("b"));
        headers.insert("Cookie", HeaderValue::from_static("c1=v1; c2=v2"));
        if let Some(ct) = content_type {
            headers.insert("Content-Type", HeaderValue::from_str(ct).unwrap());
        }
        IncomingRequest {
            method: method.into(),
            raw_path: path.into(),
            raw_query: query.into(),
            headers,
            body: Bytes::copy_from_slice(body),
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1".into(),
        }
    }

    fn context(with_claims: bool) -> EventContext {
        let claims = serde_json::json!({
            "sub": "abc", "cognito:groups": ["admin", "user"], "exp": 1_700_000_000,
            "scope": "aws.cognito.signin.user.admin", "client_id": "client1", "username": "admin",
        });
        EventContext {
            route_key: "GET /api/movies/{id}".into(),
            path_parameters: [("id".to_owned(), "42".to_owned())].into(),
            authorizer: with_claims.then(|| Verified {
                claims: claims.as_object().unwrap().clone(),
                scopes: vec!["aws.cognito.signin.user.admin".into()],
            }),
            route_has_scopes: false,
            request_id: "JsQ1AjmdIAMEPvA=".into(),
            time_epoch_ms: 1_583_348_638_390,
            api_id: "local".into(),
        }
    }

    #[test]
    fn event_deserializes_into_the_aws_lambda_events_type() {
        let req = request("GET", "/api/movies/42", "title=a%20b&x=1&x=2", None, b"");
        let event = build_event(&req, &context(true));
        let typed: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(typed.version.as_deref(), Some("2.0"));
        assert_eq!(typed.route_key.as_deref(), Some("GET /api/movies/{id}"));
        assert_eq!(typed.raw_path.as_deref(), Some("/api/movies/42"));
        assert_eq!(
            typed.raw_query_string.as_deref(),
            Some("title=a%20b&x=1&x=2")
        );
        assert_eq!(typed.cookies, Some(vec!["c1=v1".into(), "c2=v2".into()]));
        assert_eq!(typed.headers.get("x-multi").unwrap(), "a,b");
        assert!(typed.headers.get("cookie").is_none());
        assert_eq!(typed.query_string_parameters.first("title"), Some("a b"));
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(
            typed.path_parameters.get("id").map(String::as_str),
            Some("42")
        );
        let rc = &typed.request_context;
        assert_eq!(rc.stage.as_deref(), Some("$default"));
        assert_eq!(rc.time_epoch, 1_583_348_638_390);
        assert_eq!(rc.time.as_deref(), Some("04/Mar/2020:19:03:58 +0000"));
        assert_eq!(rc.http.method, http::Method::GET);
        assert_eq!(rc.http.source_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(rc.http.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(rc.domain_name.as_deref(), Some("127.0.0.1:3000"));
        let jwt = rc.authorizer.as_ref().unwrap().jwt.as_ref().unwrap();
        assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
        assert_eq!(jwt.claims["exp"], "1700000000");
        assert!(!typed.is_base64_encoded);
        assert!(typed.body.is_none());
    }

    #[test]
    fn built_event_has_the_shape_of_the_aws_fixture() {
        let reference = fixture("example-apigw-v2-request-jwt-authorizer.json");
        let event = build_event(
            &request("GET", "/my/path", "a=1", Some("application/json"), b"{}"),
            &context(true),
        );
        for key in reference.as_object().unwrap().keys() {
            if key == "stageVariables" {
                continue; // our API has no stage variables, and API Gateway then omits them
            }
            assert!(event.get(key).is_some(), "event lacks top-level {key}");
        }
        let ours = event["requestContext"].as_object().unwrap();
        for key in reference["requestContext"].as_object().unwrap().keys() {
            if key == "authentication" {
                continue; // only with mutual TLS
            }
            assert!(ours.contains_key(key), "requestContext lacks {key}");
        }
        for key in reference["requestContext"]["http"]
            .as_object()
            .unwrap()
            .keys()
        {
            assert!(ours["http"].get(key).is_some(), "http lacks {key}");
        }
    }

    #[test]
    fn no_authorizer_for_public_routes_and_binary_bodies_are_base64() {
        let req = request(
            "POST",
            "/health",
            "",
            Some("application/octet-stream"),
            &[0, 159, 146, 150],
        );
        let event = build_event(&req, &context(false));
        let typed: ApiGatewayV2httpRequest = serde_json::from_value(event.clone()).unwrap();
        assert!(typed.request_context.authorizer.is_none());
        assert!(typed.is_base64_encoded);
        assert_eq!(
            B64.decode(typed.body.unwrap()).unwrap(),
            vec![0, 159, 146, 150]
        );
        assert!(event.get("queryStringParameters").is_none());

        let form = build_event(
            &request(
                "POST",
                "/x",
                "",
                Some("application/x-www-form-urlencoded"),
                b"a=1",
            ),
            &context(false),
        );
        assert_eq!(
            form["isBase64Encoded"], true,
            "API Gateway encodes form bodies"
        );
        let json_body = build_event(
            &request(
                "POST",
                "/x",
                "",
                Some("application/json; charset=utf-8"),
                br#"{"a":1}"#,
            ),
            &context(false),
        );
        assert_eq!(json_body["isBase64Encoded"], false);
        assert_eq!(json_body["body"], r#"{"a":1}"#);
    }

    #[test]
    fn a_trailing_slash_stays_in_raw_path_only() {
        let req = request("POST", "/api/movies/", "", Some("application/json"), b"{}");
        let event = build_event(&req, &context(true));
        assert_eq!(event["rawPath"], "/api/movies/");
        assert_eq!(event["requestContext"]["http"]["path"], "/api/movies");
        let root = build_event(&request("GET", "/", "", None, b""), &context(false));
        assert_eq!(root["requestContext"]["http"]["path"], "/");
    }

    #[test]
    fn lambda_http_reads_our_event() {
        // lambda_http is what the functions run under: the request it hands to axum must carry
        // the method, path, query, cookies, body and the authorizer's claims we put in.
        use lambda_http::RequestExt;
        use lambda_http::request::{LambdaRequest, RequestContext};
        let event = build_event(
            &request(
                "POST",
                "/api/movies/42",
                "x=1",
                Some("application/json"),
                br#"{"a":1}"#,
            ),
            &context(true),
        );
        let parsed: LambdaRequest = serde_json::from_value(event).unwrap();
        let req: http::Request<lambda_http::Body> = parsed.into();
        assert_eq!(req.method(), http::Method::POST);
        assert_eq!(req.uri().path(), "/api/movies/42");
        assert_eq!(req.uri().query(), Some("x=1"));
        assert_eq!(req.headers()["cookie"], "c1=v1; c2=v2");
        assert_eq!(req.headers()["x-multi"], "a,b");
        assert_eq!(req.body().as_ref(), br#"{"a":1}"#);
        assert_eq!(req.path_parameters().first("id"), Some("42"));
        assert_eq!(req.query_string_parameters().first("x"), Some("1"));
        let Some(RequestContext::ApiGatewayV2(rc)) = req.request_context_ref() else {
            panic!("lambda_http saw no API Gateway v2 request context");
        };
        let jwt = rc.authorizer.as_ref().unwrap().jwt.as_ref().unwrap();
        assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
        assert_eq!(jwt.claims["username"], "admin");
    }

    async fn body_of(resp: Response<Full<Bytes>>) -> (StatusCode, HeaderMap, Bytes) {
        let (parts, body) = resp.into_parts();
        (
            parts.status,
            parts.headers,
            body.collect().await.unwrap().to_bytes(),
        )
    }

    #[tokio::test]
    async fn structured_response_maps_status_headers_cookies_and_base64() {
        let payload = serde_json::json!({
            "statusCode": 201,
            "headers": {"content-type": "image/png", "x-a": "1"},
            "multiValueHeaders": {"x-b": ["1", "2"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": B64.encode([1u8, 2, 3]),
            "isBase64Encoded": true,
        });
        let (status, headers, body) =
            body_of(map_response(payload.to_string().as_bytes()).unwrap()).await;
        assert_eq!(status, 201);
        assert_eq!(headers["content-type"], "image/png");
        assert_eq!(headers.get_all("x-b").iter().count(), 2);
        let cookies: Vec<_> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(cookies, vec!["s=1; HttpOnly", "t=2"]);
        assert_eq!(&body[..], &[1, 2, 3]);
    }

    #[tokio::test]
    async fn response_from_the_aws_lambda_events_type_maps() {
        use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
        let mut typed = ApiGatewayV2httpResponse::default();
        typed.status_code = 404;
        typed.headers.insert(
            "content-type",
            HeaderValue::from_static("application/problem+json"),
        );
        typed.body = Some(aws_lambda_events::encodings::Body::Text(
            r#"{"status":404}"#.into(),
        ));
        typed.cookies = vec!["a=b".into()];
        let payload = serde_json::to_vec(&typed).unwrap();
        let (status, headers, body) = body_of(map_response(&payload).unwrap()).await;
        assert_eq!(status, 404);
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(headers["set-cookie"], "a=b");
        assert_eq!(&body[..], br#"{"status":404}"#);
    }

    #[tokio::test]
    async fn plain_json_is_a_200_and_garbage_is_an_error() {
        let (status, headers, body) = body_of(map_response(br#"{"hello":"world"}"#).unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(&body[..], br#"{"hello":"world"}"#);
        assert_eq!(
            map_response(b"not json").unwrap_err(),
            MappingError::NotJson
        );
        assert!(map_response(br#"{"statusCode":"abc"}"#).is_err());
    }
}
