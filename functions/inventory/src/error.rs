//! inventory's one error type: what a handler can fail with, and the answer each gets.

use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::db::DbError;

use crate::domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field the caller must fix: 400 naming it.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Any other refusal, already phrased as a problem (404, 403, an extractor's 4xx).
    #[error(transparent)]
    Problem(#[from] Problem),
    /// 503 when the database is away, else 500; counted as `DbErrors` by the router.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(e) => Problem::bad_request(e.to_string()).into_response(),
            Self::Problem(p) => p.into_response(),
            Self::Db(e) => shared::db_failure::respond(&e),
        }
    }
}
