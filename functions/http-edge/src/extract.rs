//! The request extractors every HTTP function uses, so no handler reads or parses a body by hand:
//! the 64 KiB cap, duplicate JSON keys and the content type are checked in one place, and every
//! refusal is an `application/problem+json` 4xx. The same for a path parameter ([`PathParam`]).

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use http::request::Parts;

use crate::problem::{Problem, body_bytes, parse_json};

/// A route's one path parameter, validated into `T` with `TryFrom<&str>` (its error is the
/// 400's detail). axum's own `Path` answers a segment that is not UTF-8 once percent-decoded
/// (`%FF`) with a `text/plain` 400; this answers every refusal with a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathParam<T>(pub T);

impl<S, T> FromRequestParts<S> for PathParam<T>
where
    S: Send + Sync,
    T: for<'a> TryFrom<&'a str>,
    for<'a> <T as TryFrom<&'a str>>::Error: std::fmt::Display,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(path_problem)?;
        T::try_from(raw.as_str())
            .map(Self)
            .map_err(|e| Problem::bad_request(e.to_string()))
    }
}

fn path_problem(rejection: PathRejection) -> Problem {
    use axum::extract::path::ErrorKind;
    match rejection {
        PathRejection::FailedToDeserializePathParams(e) => match e.into_kind() {
            ErrorKind::InvalidUtf8InPathParam { key } => {
                Problem::bad_request(format!("{key}: is not UTF-8 once percent-decoded"))
            }
            // A route with other than one parameter: this function's bug, not the caller's.
            ErrorKind::WrongNumberOfParameters { .. } | ErrorKind::UnsupportedType { .. } => {
                tracing::error!("PathParam on a route without exactly one parameter");
                Problem::internal()
            }
            other => Problem::bad_request(format!("the path parameter is not valid: {other}")),
        },
        // No parameters at all: the extractor is on a route that has none.
        other => {
            tracing::error!(rejection = %other, "PathParam on a route without parameters");
            Problem::internal()
        }
    }
}

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
        // The one header it needs (a reference-counted value), not the whole map.
        let content_type = req.headers().get(http::header::CONTENT_TYPE).cloned();
        let body = body_bytes(Bytes::from_request(req, state).await)?;
        parse_json(content_type.as_ref(), &body).map(JsonBody)
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

    /// A positive number, as the inventory's ids.
    #[derive(Debug)]
    struct Id(u32);

    impl TryFrom<&str> for Id {
        type Error = String;
        fn try_from(raw: &str) -> Result<Self, String> {
            raw.parse()
                .map(Self)
                .map_err(|_| "id: is not a number".to_owned())
        }
    }

    async fn get_path(uri: &str) -> (StatusCode, String) {
        let app = Router::new().route(
            "/items/{id}",
            axum::routing::get(|PathParam(Id(id)): PathParam<Id>| async move { id.to_string() }),
        );
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        if !status.is_success() {
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                CONTENT_TYPE,
                "{uri}"
            );
        }
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn a_path_parameter_refusal_is_a_problem_naming_it() {
        assert_eq!(get_path("/items/42").await, (StatusCode::OK, "42".into()));
        assert_eq!(
            get_path("/items/%34%32").await,
            (StatusCode::OK, "42".into()),
            "percent-decoded first"
        );
        let (status, body) = get_path("/items/%FF").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(problem["status"], 400);
        assert_eq!(problem["detail"], "id: is not UTF-8 once percent-decoded");
        let (status, body) = get_path("/items/abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("id: is not a number"), "{body}");
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
