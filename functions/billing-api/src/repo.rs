//! The SQL, one function per statement.

use billing::StoredOrder;
use database::{Db, DbError};
use uuid::Uuid;

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
