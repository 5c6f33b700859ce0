//! The request extractors every HTTP function uses, so no handler reads or parses a body by hand:
//! the 64 KiB cap, duplicate JSON keys and the content type are checked in one place, and every
//! refusal is an `application/problem+json` 4xx.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use crate::problem::{Problem, body_bytes, parse_json};

/// A JSON body, read under the router's `DefaultBodyLimit::max(BODY_LIMIT)` (larger: 413),
/// parsed with duplicate keys refused (400), sent as `application/json` or `+json` (else 415).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = body_bytes(Bytes::from_request(req, state).await)?;
        parse_json(&headers, &body).map(JsonBody)
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::DefaultBodyLimit;
    use axum::routing::post;
    use http::{Request, StatusCode, header};
    use tower::ServiceExt;

    use super::*;
    use crate::problem::{BODY_LIMIT, CONTENT_TYPE};

    async fn post_body(content_type: &str, body: Vec<u8>) -> (StatusCode, String) {
        let app = Router::new()
            .route(
                "/",
                post(|JsonBody(v): JsonBody<serde_json::Value>| async move { v.to_string() }),
            )
            .layer(DefaultBodyLimit::max(BODY_LIMIT));
        let request = Request::post("/")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        if !status.is_success() {
            assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        }
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn every_refusal_is_a_problem_and_a_valid_body_passes() {
        let ok = post_body("application/json", br#"{"a":1}"#.to_vec()).await;
        assert_eq!(ok, (StatusCode::OK, r#"{"a":1}"#.into()));
        let (status, body) = post_body("application/json", br#"{"a":1,"a":2}"#.to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("duplicate key"), "{body}");
        let (status, _) = post_body("text/plain", br#"{"a":1}"#.to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(BODY_LIMIT));
        let (status, _) = post_body("application/json", big.into_bytes()).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _) = post_body("application/json", b"{".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
