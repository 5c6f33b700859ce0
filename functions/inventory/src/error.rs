//! inventory's one error type: http-edge's [`ApiError`](http_edge::api_error::ApiError), whose own
//! refusal is a field the caller must fix (400 naming it).

use axum::response::{IntoResponse, Response};
use http_edge::Problem;

use crate::domain::Invalid;

pub type ApiError = http_edge::api_error::ApiError<Invalid>;

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::Refused(e)
    }
}

impl IntoResponse for Invalid {
    fn into_response(self) -> Response {
        Problem::bad_request(self.to_string()).into_response()
    }
}
