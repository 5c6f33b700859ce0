//! The HTTP surface: `POST /api/billing` and `GET /api/billing/orders/{message_id}`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::request::Parts;
use serde::Serialize;
use shared::Problem;
use shared::auth::Principal;
use shared::db::{Db, DbError};
use shared::extract::{JsonBody, PathParam};
use shared::metrics::{Metrics, Unit};
use shared::problem::BODY_LIMIT;
use uuid::Uuid;

use billing::{
    IdempotencyKey, MessageId, Order, OrderMessage, OrderRequest, Publisher, StoredOrder,
};

use crate::error::{ApiError, Refusal};

/// The optional request header naming a retriable order.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Everything a request needs, built once per cold start.
#[derive(Clone)]
pub struct AppState {
    pub publisher: Publisher,
    pub db: Db,
    pub metrics: Metrics,
}

/// The function's routes; one trailing slash is ignored (`shared::trailing_slash`).
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let routes = Router::new()
        .route("/api/billing", post(create_order))
        .route("/api/billing/orders/{message_id}", get(get_order))
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(state));
    shared::trailing_slash::normalize(shared::db_failure::count_db_errors(routes, metrics))
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
/// (`shared::auth::ORDERS_AUDIT_SCOPE_NAME`); to anyone else it does not exist (a 404, not a
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
    match find_order(&state.db, id).await? {
        Some(order) if visible(&order) => Ok(axum::Json(order).into_response()),
        _ => Err(Problem::not_found(format!(
            "order {id} is not stored (yet): it may still be in the queue, retry shortly"
        ))
        .into()),
    }
}

/// The stored order with this `message_id`, if the consumer has stored it.
#[tracing::instrument(skip(db))]
pub async fn find_order(db: &Db, message_id: Uuid) -> Result<Option<StoredOrder>, DbError> {
    db.timed(async {
        let client = db.client().await?;
        // Prepared once per connection: a lookup is then one round trip, not parse + execute.
        let stmt = client
            .prepare_cached(
                "SELECT message_id, user_id, number_of_items, total_amount::text, principal,
                        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                        owner_sub
                   FROM orders WHERE message_id = $1",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&message_id]).await?;
        Ok(row.map(|r| StoredOrder {
            message_id: r.get(0),
            user_id: r.get(1),
            number_of_items: r.get(2),
            total_amount: r.get(3),
            principal: r.get(4),
            created_at: r.get(5),
            owner_sub: r.get(6),
        }))
    })
    .await
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use local_gateway::request::{request, request_context, user_claims};
    use shared::db::DbSettings;

    use super::*;

    /// The router over a pool and a broker that are never reached: every request here is
    /// refused before.
    fn app() -> Router {
        router(AppState {
            publisher: Publisher::new(billing::AmqpSettings::local(
                "amqp://u:p@127.0.0.1:1/%2f",
                "billing_queue",
            )),
            db: Db::new(&DbSettings::local("127.0.0.1", 1, "orders", "u", "p")).unwrap(),
            metrics: Metrics::from_env_with(&[("", "")], "billing-api"),
        })
    }

    #[tokio::test]
    async fn a_bad_message_id_is_a_problem() {
        let app = app();
        let uuid = Uuid::new_v4();
        let long = "a".repeat(10_000);
        for (id, detail) in [
            (
                "%FF".to_owned(),
                "message_id: is not UTF-8 once percent-decoded".to_owned(),
            ),
            (
                long.clone(),
                "message_id: is not a UUID (10000 characters)".to_owned(),
            ),
            (
                uuid.simple().to_string(),
                format!("message_id: \"{}\" is not a UUID", uuid.simple()),
            ),
        ] {
            let context = request_context(user_claims("sub-u", "u", Some("[user]")));
            let uri = format!("/api/billing/orders/{id}");
            let req = request("GET", &uri, None, &[], Some(context)).unwrap();
            let response = local_gateway::request::oneshot(&app, req).await;
            let what = &id[..id.len().min(12)];
            let problem =
                local_gateway::request::problem(response, StatusCode::BAD_REQUEST, what).await;
            assert_eq!(
                problem,
                serde_json::json!({
                    "type": "/problems/invalid-request",
                    "title": "Invalid request",
                    "status": 400,
                    "detail": detail,
                }),
                "{what}"
            );
        }
    }
}
