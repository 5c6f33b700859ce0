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

/// A percent-encoded path segment or query part, decoded (invalid UTF-8 replaced), as API
/// Gateway and the Lambda API decode them: the one decoder of the gateway.
pub(crate) fn percent_decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// `application/x-www-form-urlencoded` (a query string or a form body), decoded: `+` is a space,
/// a pair without `=` has an empty value.
pub(crate) fn form_params(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (
                percent_decoded(&k.replace('+', " ")),
                percent_decoded(&v.replace('+', " ")),
            )
        })
        .collect()
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
            .entry(percent_decoded(k))
            .and_modify(|existing| {
                existing.push(',');
                existing.push_str(&percent_decoded(v));
            })
            .or_insert_with(|| percent_decoded(v));
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
mod tests;
