//! Storing orders: one statement per batch, idempotent on `message_id`.

use std::collections::HashSet;

use billing_api::Order;
use shared::db::{Db, DbError};
use uuid::Uuid;

/// A valid message, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub message_id: Uuid,
    pub order: Order,
    pub principal: Option<String>,
}

const INSERT: &str = "
    INSERT INTO orders (message_id, user_id, number_of_items, total_amount, principal)
    SELECT m, u, n, a::numeric(12,2), p
      FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::text[], $5::text[]) AS t(m, u, n, a, p)
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id";

/// Inserts `rows` with one statement and returns the `message_id`s that were new; the others
/// were stored by an earlier delivery. `rows` must not repeat a `message_id`.
#[tracing::instrument(skip(db, rows), fields(rows = rows.len()))]
pub async fn insert_orders(db: &Db, rows: &[OrderRow]) -> Result<HashSet<Uuid>, DbError> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.message_id).collect();
    let users: Vec<i64> = rows.iter().map(|r| r.order.user_id).collect();
    let items: Vec<i32> = rows.iter().map(|r| r.order.number_of_items).collect();
    let amounts: Vec<String> = rows
        .iter()
        .map(|r| r.order.total_amount.to_string())
        .collect();
    let principals: Vec<Option<String>> = rows.iter().map(|r| r.principal.clone()).collect();
    db.timed(async {
        let client = db.client().await?;
        let statement = client.prepare_cached(INSERT).await?;
        let inserted = client
            .query(&statement, &[&ids, &users, &items, &amounts, &principals])
            .await?;
        Ok(inserted.iter().map(|r| r.get::<_, Uuid>(0)).collect())
    })
    .await
}
