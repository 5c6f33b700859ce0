//! The HTTP functions' error type, and a database failure as they answer and count it, in one
//! place: [`ApiError`] converts a [`DbError`] with `From` and answers with [`respond`]; the
//! router's [`count_db_errors`] layer emits the `DbErrors` metric the Terraform alarm
//! `<function>-db-errors` (terraform/modules/observability/monitoring.json) watches.

use axum::Router;
use axum::extract::State;
use axum::middleware::map_response_with_state;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use database::DbError;
use telemetry::metrics::Metrics;

/// An HTTP function's one error type: what a handler can fail with, and the answer each gets.
/// `R` is the function's own refusals, each of which answers for itself (inventory: a field to
/// fix; billing-api: that, or the broker not confirming).
#[derive(Debug, thiserror::Error)]
pub enum ApiError<R> {
    #[error(transparent)]
    Refused(R),
    /// Any other refusal, already phrased as a problem (404, 403, an extractor's 4xx).
    #[error(transparent)]
    Problem(#[from] Problem),
    /// 503 when the database is away, else 500; counted as `DbErrors` by the router.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl<R: IntoResponse> IntoResponse for ApiError<R> {
    fn into_response(self) -> Response {
        match self {
            Self::Refused(r) => r.into_response(),
            Self::Problem(p) => p.into_response(),
            Self::Db(e) => respond(&e),
        }
    }
}

/// Carried by the response of a database failure, for [`count_db_errors`].
#[derive(Debug, Clone, Copy)]
struct DbFailed;

/// Logs the failure with its cause and answers: 503 when the database is away (retry), 500 with
/// no detail otherwise.
pub fn respond(e: &DbError) -> Response {
    let problem = if e.is_unavailable() {
        tracing::warn!(error = %e, "database unavailable");
        Problem::unavailable("Database unavailable")
    } else {
        tracing::error!(error = %e, "database error");
        Problem::internal()
    };
    let mut response = problem.into_response();
    response.extensions_mut().insert(DbFailed);
    response
}

/// Counts `DbErrors` once for every response [`respond`] built.
pub fn count_db_errors(router: Router, metrics: Metrics) -> Router {
    router.layer(map_response_with_state(metrics, count))
}

async fn count(State(metrics): State<Metrics>, response: Response) -> Response {
    if response.extensions().get::<DbFailed>().is_some() {
        metrics.count("DbErrors", 1);
    }
    response
}
