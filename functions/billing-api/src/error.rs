//! billing-api's one error type: what a handler can fail with, and the answer each gets.

use axum::response::{IntoResponse, Response};
use billing::{PublishError, ValidationError};
use shared::Problem;
use shared::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A field the caller must fix: 400 naming it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// Any other refusal, already phrased as a problem (404, an extractor's 4xx).
    #[error(transparent)]
    Problem(#[from] Problem),
    /// The broker did not confirm the order: 503, the client may retry (with its
    /// `Idempotency-Key`, the retry is the same order).
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// 503 when the database is away, else 500; counted as `DbErrors` by the router.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(e) => Problem::bad_request(e.to_string()).into_response(),
            Self::Problem(p) => p.into_response(),
            Self::Publish(PublishError::Unreachable(_) | PublishError::Timeout(_)) => {
                Problem::unavailable("Broker unavailable").into_response()
            }
            Self::Publish(PublishError::Nacked | PublishError::Unroutable(_)) => {
                Problem::unavailable("Order not accepted by the broker").into_response()
            }
            Self::Db(e) => shared::db_failure::respond(&e),
        }
    }
}
