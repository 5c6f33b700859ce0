//! RFC 9457 problem details: every error body this platform returns.
//!
//! 4xx bodies explain what to fix; 5xx bodies say only what happened, never why (the log
//! line, tagged with the request id, carries the internals).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// The largest request body a function reads (with `DefaultBodyLimit::max(BODY_LIMIT)` on the
/// router); larger is a 413 problem.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<u32>,
    #[serde(skip)]
    pub www_authenticate: Option<String>,
}

impl Problem {
    pub const fn new(status: StatusCode, kind: &'static str, title: &'static str) -> Self {
        Self {
            kind,
            title,
            status: status.as_u16(),
            detail: None,
            retry_after: None,
            www_authenticate: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "/problems/invalid-request",
            "Invalid request",
        )
        .with_detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "/problems/not-found", "Not found").with_detail(detail)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "/problems/method-not-allowed",
            "Method not allowed",
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let mut p = Self::new(
            StatusCode::UNAUTHORIZED,
            "/problems/unauthorized",
            "Unauthorized",
        )
        .with_detail(detail.clone());
        p.www_authenticate = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            detail.replace(['"', '\\'], "'")
        ));
        p
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "/problems/forbidden", "Forbidden").with_detail(detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "/problems/payload-too-large",
            "Payload too large",
        )
        .with_detail(format!("the body must be at most {limit} bytes"))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "/problems/unsupported-media-type",
            "Unsupported media type",
        )
        .with_detail("send the body as application/json")
    }

    /// A dependency (database, broker) is unreachable: the client may retry shortly.
    pub fn unavailable(what: &'static str) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "/problems/unavailable",
            what,
        )
        .with_detail("a dependency is temporarily unreachable; retry shortly");
        p.retry_after = Some(1);
        p
    }

    /// A bug. The body says nothing more; the log has the cause.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "/problems/internal",
            "Internal error",
        )
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

/// So a function's error type can carry one with `#[from]`.
impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.www_authenticate.as_deref()
            && let Ok(value) = HeaderValue::from_str(challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The request body, read under the router's `DefaultBodyLimit::max(BODY_LIMIT)`: too large is a
/// 413 problem, unreadable a 400.
pub(crate) fn body_bytes(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, Problem> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => Problem::payload_too_large(BODY_LIMIT),
        _ => Problem::bad_request("the body could not be read"),
    })
}

/// A JSON value parsed with duplicate object keys refused: serde_json keeps the last of
/// `{"a":1,"a":2}` silently, so two parsers (a WAF, a log pipeline, us) could disagree on what
/// a request says.
struct UniqueKeys(serde_json::Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_i64<E>(self, v: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_str<E>(self, v: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_string<E>(self, v: String) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(v.into()))
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys(serde_json::Value::Null))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(UniqueKeys(serde_json::Value::Array(items)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {key:?} in a JSON object"
                )));
            }
            let UniqueKeys(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(UniqueKeys(serde_json::Value::Object(object)))
    }
}

/// Parses a JSON request body, turning every failure into a 400 that names the problem.
/// Duplicate keys in any object are refused.
/// `content_type` is the request's `Content-Type` header, if any.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    content_type: Option<&http::HeaderValue>,
    body: &[u8],
) -> Result<T, Problem> {
    if let Some(ct) = content_type {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or_default().trim();
        if !(media == "application/json" || media.ends_with("+json") || media.is_empty()) {
            return Err(Problem::unsupported_media_type());
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "the request body is empty; send a JSON object",
        ));
    }
    let UniqueKeys(value) = serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Problem::bad_request(format!("invalid JSON: {e}")),
            Category::Syntax | Category::Eof | Category::Io => {
                Problem::bad_request(format!("malformed JSON: {e}"))
            }
        }
    })?;
    serde_json::from_value(value).map_err(|e| Problem::bad_request(format!("invalid field: {e}")))
}

/// Strictly parses a raw query string: percent-decoding must yield UTF-8 and only `allowed`
/// names may appear, each at most once.
pub fn parse_query(raw: Option<&str>, allowed: &[&str]) -> Result<Vec<(String, String)>, Problem> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = decode_component(k)?;
        let v = decode_component(v)?;
        if !allowed.contains(&k.as_str()) {
            return Err(Problem::bad_request(format!(
                "unknown query parameter {k:?}; allowed: {}",
                allowed.join(", ")
            )));
        }
        if out.iter().any(|(seen, _)| *seen == k) {
            return Err(Problem::bad_request(format!(
                "query parameter {k:?} given twice"
            )));
        }
        out.push((k, v));
    }
    Ok(out)
}

fn decode_component(s: &str) -> Result<String, Problem> {
    let plus_as_space = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| Problem::bad_request("the query string is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_response_has_media_type_and_no_internals() {
        let r = Problem::internal().into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(r.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        let r = Problem::unauthorized("token \"expired\"").into_response();
        assert!(
            r.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let r = Problem::unavailable("Database unavailable").into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn query_is_strict() {
        let q = parse_query(Some("title=a%25b+c&limit=3"), &["title", "limit"]).unwrap();
        assert_eq!(
            q,
            vec![
                ("title".into(), "a%b c".into()),
                ("limit".into(), "3".into())
            ]
        );
        assert!(parse_query(Some("title=%FF"), &["title"]).is_err());
        assert!(parse_query(Some("nope=1"), &["title"]).is_err());
        assert!(parse_query(Some("title=a&title=b"), &["title"]).is_err());
        assert_eq!(parse_query(None, &["title"]).unwrap(), vec![]);
    }

    #[test]
    fn json_errors_are_400_or_415() {
        let h: Option<&HeaderValue> = None;
        assert_eq!(
            parse_json::<serde_json::Value>(h, b"{").unwrap_err().status,
            400
        );
        assert_eq!(
            parse_json::<serde_json::Value>(h, b"  ")
                .unwrap_err()
                .status,
            400
        );
        for dup in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"[{"x":[{"y":1,"y":2}]}]"#,
        ] {
            let p = parse_json::<serde_json::Value>(h, dup).unwrap_err();
            assert_eq!(p.status, 400);
            assert!(p.detail.unwrap().contains("duplicate key"));
        }
        let v: serde_json::Value =
            parse_json(h, br#"{"a":[1,-2,3.5,"s",null,true],"b":{"a":1}}"#).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a":[1,-2,3.5,"s",null,true],"b":{"a":1}})
        );
        let text = HeaderValue::from_static("text/plain");
        let h = Some(&text);
        assert_eq!(
            parse_json::<serde_json::Value>(h, b"{}")
                .unwrap_err()
                .status,
            415
        );
    }
}
