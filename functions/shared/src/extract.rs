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
