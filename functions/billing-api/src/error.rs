//! billing-api's one error type: http-edge's [`ApiError`](http_edge::api_error::ApiError) with
//! billing-api's own refusals.

use axum::response::{IntoResponse, Response};
use billing::ValidationError;
use broker::PublishError;
use http_edge::Problem;

pub type ApiError = http_edge::api_error::ApiError<Refusal>;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// A field the caller must fix: 400 naming it.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The broker did not confirm the order: 503, the client may retry (with its
    /// `Idempotency-Key`, the retry is the same order).
    #[error(transparent)]
    Publish(#[from] PublishError),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(e) => Problem::bad_request(e.to_string()).into_response(),
            Self::Publish(
                PublishError::InvalidUri | PublishError::Unreachable(_) | PublishError::Timeout(_),
            ) => Problem::unavailable("Broker unavailable").into_response(),
            Self::Publish(PublishError::Nacked | PublishError::Unroutable(_)) => {
                Problem::unavailable("Order not accepted by the broker").into_response()
            }
        }
    }
}
