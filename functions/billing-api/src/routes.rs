//! The routes: `POST /api/billing` (publish an order) and `GET /api/billing/orders/{message_id}`
//! (where it stands). The SQL is in `repo`, the errors in `error`, as in inventory.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use broker::Publisher;
use database::Db;
use http::request::Parts;
use http_edge::Problem;
use http_edge::auth::Principal;
use http_edge::extract::{JsonBody, PathParam};
use http_edge::problem::BODY_LIMIT;
use serde::Serialize;
use telemetry::metrics::{Metrics, Unit};
use uuid::Uuid;

use billing::{IdempotencyKey, MessageId, Order, OrderMessage, OrderRequest, StoredOrder};

use crate::error::{ApiError, Refusal};
use crate::repo;

/// The optional request header naming a retriable order.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Everything a request needs, built once per cold start.
#[derive(Clone)]
pub struct AppState {
    pub publisher: Publisher,
    pub db: Db,
    pub metrics: Metrics,
}

/// The function's routes; one trailing slash is ignored (`http_edge::trailing_slash`).
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let routes = Router::new()
        .route("/api/billing", post(create_order))
        .route("/api/billing/orders/{message_id}", get(get_order))
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(state));
    http_edge::trailing_slash::normalize(http_edge::api_error::count_db_errors(routes, metrics))
}

#[derive(Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Queued {
    pub message_id: Uuid,
    pub status: String,
}

#[tracing::instrument(skip(state, key, value), fields(message_id))]
async fn create_order(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    IdempotencyKeyHeader(key): IdempotencyKeyHeader,
    JsonBody(value): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    if !value.is_object() {
        return Err(Problem::bad_request(
            "the body must be a JSON object {user_id, number_of_items, total_amount}",
        )
        .into());
    }
    let request: OrderRequest = serde_json::from_value(value)
        .map_err(|e| Problem::bad_request(format!("invalid field: {e}")))?;
    let order = Order::try_from(&request).map_err(Refusal::from)?;
    // With a key, a retry (after a 503 or a lost 200) is the same message_id, so the consumer
    // stores the order once; without one, every request is a new order.
    let message_id = match &key {
        Some(key) => key.message_id(&principal.subject),
        None => Uuid::new_v4(),
    };
    tracing::Span::current().record("message_id", tracing::field::display(message_id));
    let message = OrderMessage::new(message_id, &order, Some(principal.label().to_owned()))
        .owned_by(&principal.subject);
    let payload = message.to_bytes();
    let started = Instant::now();
    state
        .publisher
        .publish(&message_id.to_string(), &payload)
        .await
        .inspect_err(|e| tracing::error!(error = %e, %message_id, "order not queued"))
        .map_err(Refusal::from)?;
    state.metrics.emit(&[
        ("OrdersQueued", 1.0, Unit::Count),
        (
            "PublishConfirmLatency",
            started.elapsed().as_secs_f64() * 1000.0,
            Unit::Milliseconds,
        ),
    ]);
    tracing::info!(%message_id, user_id = order.user_id, "order queued");
    Ok(axum::Json(Queued {
        message_id,
        status: "queued".into(),
    })
    .into_response())
}

/// The `Idempotency-Key` header, when given (once, valid).
struct IdempotencyKeyHeader(Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKeyHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(IDEMPOTENCY_KEY).iter();
        let Some(first) = values.next() else {
            return Ok(Self(None));
        };
        if values.next().is_some() {
            return Err(Problem::bad_request("Idempotency-Key: given more than once").into());
        }
        Ok(Self(Some(
            IdempotencyKey::try_from(first.as_bytes()).map_err(Refusal::from)?,
        )))
    }
}

/// An order is visible to its owner (the token `sub` that placed it, not the username, which
/// can be re-created for someone else) and to the machine client holding the orders audit scope
/// (`http_edge::auth::ORDERS_AUDIT_SCOPE_NAME`); to anyone else it does not exist (a 404, not a
/// 403, so a message_id's existence does not leak). Orders stored before ownership by `sub`
/// have no owner and are visible to that auditor only.
#[tracing::instrument(skip(state, principal))]
async fn get_order(
    State(state): State<Arc<AppState>>,
    principal: Principal,
    PathParam(MessageId(id)): PathParam<MessageId>,
) -> Result<Response, ApiError> {
    let visible = |o: &StoredOrder| {
        principal.reads_every_order() || o.owner_sub.as_deref() == Some(principal.subject.as_str())
    };
    match repo::find_order(&state.db, id).await? {
        Some(order) if visible(&order) => Ok(axum::Json(order).into_response()),
        _ => Err(Problem::not_found(format!(
            "order {id} is not stored (yet): it may still be in the queue, retry shortly"
        ))
        .into()),
    }
}
