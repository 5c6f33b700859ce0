//! Storing orders: one statement per batch, idempotent on `message_id`; when the database
//! refuses a row's data, the batch is bisected to find the bad rows in O(k log n) statements.

use std::collections::HashSet;

use billing::Order;
use database::{Db, DbError};
use uuid::Uuid;

/// A valid message, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub message_id: Uuid,
    pub order: Order,
    /// The display label (username) of whoever placed the order.
    pub principal: Option<String>,
    /// The token `sub` of whoever placed the order: the owner.
    pub owner_sub: Option<String>,
}

const INSERT: &str = "
    INSERT INTO orders (message_id, user_id, number_of_items, total_amount, principal, owner_sub)
    SELECT m, u, n, a::numeric(12,2), p, o
      FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[])
           AS t(m, u, n, a, p, o)
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
    let owners: Vec<Option<String>> = rows.iter().map(|r| r.owner_sub.clone()).collect();
    db.timed(async {
        let client = db.client().await?;
        let statement = client.prepare_cached(INSERT).await?;
        let inserted = client
            .query(
                &statement,
                &[&ids, &users, &items, &amounts, &principals, &owners],
            )
            .await?;
        Ok(inserted.iter().map(|r| r.get::<_, Uuid>(0)).collect())
    })
    .await
}

/// A data error: the row itself is wrong (SQLSTATE class 22 "data exception" or 23 "integrity
/// constraint violation"), so storing it again can never succeed. Anything else (permission,
/// missing table or column, disk full, out of memory, deadlock, lock timeout, read-only,
/// connection lost...) is the platform's fault and must not cost an order.
pub fn is_data_error(e: &DbError) -> bool {
    match e {
        DbError::Query(pg) => pg
            .code()
            .is_some_and(|c| c.code().starts_with("22") || c.code().starts_with("23")),
        DbError::Unavailable(_) | DbError::Setup(_) => false,
    }
}

/// What [`insert_isolating`] did.
#[derive(Debug, Default)]
pub struct Stored {
    /// `message_id`s newly inserted.
    pub inserted: HashSet<Uuid>,
    /// Indexes (into the given rows) of the rows the database refused, with why.
    pub rejected: Vec<(usize, DbError)>,
    /// Statements run.
    pub statements: usize,
}

/// This many rows or more, every one refused with the same SQLSTATE, are not poison but a
/// platform fault: a schema or code change the orders cannot know about (a new `CHECK`, a
/// narrowed column) refuses valid orders alike, and dead-lettering them would lose them. The
/// batch then fails for a redelivery (and the error alarms fire) until the change is repaired.
/// Fewer rows refused alike cannot be told from poison, and are dead-lettered.
pub const SYSTEMIC_MIN_ROWS: usize = 3;

/// Stores `rows`, isolating the rows the database refuses for their data: the whole batch in
/// one statement; if it is refused, each half, recursively, down to single rows. With k bad
/// rows among n that is at most 1 + 2k·⌈log2 n⌉ statements (instead of n + 1 row by row), and at
/// most ⌈log2 n⌉ + 1 passes over the rows. Any error that is not a data error stops at once and
/// is returned: the caller fails the invocation and the whole batch is redelivered. So is a
/// data error that every row of a batch of at least [`SYSTEMIC_MIN_ROWS`] hit alike (the first
/// row's error is returned).
pub async fn insert_isolating(db: &Db, rows: &[OrderRow]) -> Result<Stored, DbError> {
    let mut out = Stored::default();
    // The SQLSTATE of each refused row.
    let mut codes: HashSet<Option<String>> = HashSet::new();
    // Ranges still to store, first the whole batch; depth-first keeps the stack short.
    let mut todo: Vec<std::ops::Range<usize>> = Vec::new();
    todo.push(0..rows.len());
    while let Some(range) = todo.pop() {
        if range.is_empty() {
            continue;
        }
        out.statements += 1;
        match insert_orders(db, &rows[range.clone()]).await {
            Ok(inserted) => out.inserted.extend(inserted),
            Err(e) if !is_data_error(&e) => return Err(e),
            Err(e) if range.len() == 1 => {
                codes.insert(sqlstate(&e));
                out.rejected.push((range.start, e));
            }
            Err(_) => {
                let mid = range.start + range.len() / 2;
                todo.push(mid..range.end);
                todo.push(range.start..mid);
            }
        }
    }
    out.rejected.sort_by_key(|(i, _)| *i);
    if rows.len() >= SYSTEMIC_MIN_ROWS
        && out.rejected.len() == rows.len()
        && codes.len() == 1
        && let Some((_, e)) = std::mem::take(&mut out.rejected).into_iter().next()
    {
        tracing::error!(
            rows = rows.len(),
            sqlstate = sqlstate(&e).as_deref().unwrap_or("none"),
            "every row of the batch refused with the same data error: a schema or code fault, not poison"
        );
        return Err(e);
    }
    Ok(out)
}

fn sqlstate(e: &DbError) -> Option<String> {
    match e {
        DbError::Query(pg) => pg.code().map(|c| c.code().to_owned()),
        DbError::Unavailable(_) | DbError::Setup(_) => None,
    }
}

/// The database's message and SQLSTATE, for the dead letter.
pub fn reason(e: &DbError) -> String {
    match e {
        DbError::Query(pg) => match pg.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => pg.to_string(),
        },
        other => other.to_string(),
    }
}
