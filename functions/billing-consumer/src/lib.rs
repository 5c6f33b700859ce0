#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-consumer: stores the orders the Amazon MQ event source mapping delivers.
//!
//! Nothing lost, nothing doubled: the batch is stored with one idempotent statement; a message
//! that can never be stored goes to the SQS dead-letter queue with its reason; anything
//! transient fails the invocation so the mapping redelivers the batch, which is then harmless.

pub mod dlq;
pub mod store;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use billing::message::BodyError;
use billing::rmq::Entry;
use billing::{Order, OrderMessage, ValidationError};
use database::{Db, DbError};
use telemetry::metrics::{Metrics, Unit};
use uuid::Uuid;

pub use billing::rmq::{RabbitMqEvent, RabbitMqMessage};
pub use dlq::DeadLetter;
pub use store::OrderRow;

/// What one invocation needs, built once per cold start.
#[derive(Clone)]
pub struct Consumer {
    pub db: Db,
    pub sqs: aws_sdk_sqs::Client,
    pub dlq_url: String,
    pub metrics: Metrics,
}

impl Consumer {
    /// Wired from the function's configuration `env`: the pool (built once, connected on first
    /// use), the SQS client and the dead-letter queue. `main` and the end-to-end tests
    /// (in-process) both call it.
    pub async fn from_env(
        env: &impl settings::Env,
        metrics: Metrics,
    ) -> Result<Self, lambda_runtime::Error> {
        let secrets = secrets::SecretSource::new(env);
        let db = Db::new(&database::DbSettings::from_env(env, &secrets).await?)?;
        let dlq_url = env.required("DLQ_URL")?;
        let sqs = aws_sdk_sqs::Client::new(&secrets::sdk::sdk_config(env));
        Ok(Self {
            db,
            sqs,
            dlq_url,
            metrics,
        })
    }
}

/// Why a message can never be stored. Not retryable: it goes to the dead-letter queue, with
/// this error's text as its reason.
#[derive(Debug, thiserror::Error)]
pub enum MessageError {
    #[error("message does not look like an Amazon MQ message: {0}")]
    Envelope(#[source] Arc<serde_json::Error>),
    #[error("the message has no data")]
    NoData,
    #[error("data is not base64: {0}")]
    Base64(#[source] base64::DecodeError),
    #[error("body is not a JSON order: {0}")]
    Json(#[source] BodyError),
    #[error("invalid order: {0}")]
    Invalid(#[from] ValidationError),
    #[error("the messageId property is missing")]
    MissingMessageId,
    #[error("the messageId property {property:?} is not a UUID")]
    BadMessageId {
        property: String,
        #[source]
        source: uuid::Error,
    },
    #[error("the messageId property {property} differs from the body's message_id {body}")]
    MessageIdMismatch { property: Uuid, body: Uuid },
    #[error("rejected by the database: {}", store::reason(.0))]
    Rejected(#[source] DbError),
}

/// Why the invocation failed. Always retryable: the mapping redelivers the batch, and storing
/// it again adds nothing.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Anything but a data error: unreachable, permission, missing table or column, disk full,
    /// deadlock... The platform's fault, never the order's.
    #[error("database error; the batch will be redelivered: {0}")]
    Database(#[source] DbError),
    #[error("{0}; the batch will be redelivered")]
    DeadLetterQueue(#[from] dlq::DlqError),
}

/// The invocation error the runtime reports; `errorType` says it will be retried.
impl From<ConsumerError> for lambda_runtime::Diagnostic {
    fn from(e: ConsumerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "Retryable".into(),
            error_message: e.to_string(),
        }
    }
}

/// What happened to each message of a batch.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Report {
    pub stored: Vec<Uuid>,
    pub duplicates: Vec<Uuid>,
    pub dead_lettered: Vec<DeadLetter>,
    /// INSERT statements run: 1 for a clean batch, O(k log n) when k rows were refused.
    pub statements: usize,
    /// SendMessageBatch requests made to the dead-letter queue.
    pub dlq_requests: usize,
    /// Time spent storing (statements included) and sending dead letters.
    pub store_time: std::time::Duration,
    pub dlq_time: std::time::Duration,
}

/// Decodes and validates one message into a row, with the same rules as the HTTP edge.
impl TryFrom<&RabbitMqMessage> for OrderRow {
    type Error = MessageError;

    fn try_from(message: &RabbitMqMessage) -> Result<Self, MessageError> {
        let property = message
            .basic_properties
            .message_id
            .as_deref()
            .ok_or(MessageError::MissingMessageId)?;
        let message_id =
            Uuid::parse_str(property.trim()).map_err(|source| MessageError::BadMessageId {
                property: property.to_owned(),
                source,
            })?;
        let bytes = message
            .data
            .as_ref()
            .ok_or(MessageError::NoData)?
            .decode()
            .map_err(MessageError::Base64)?;
        let body = OrderMessage::from_slice(&bytes).map_err(MessageError::Json)?;
        if let Some(in_body) = body.message_id
            && in_body != message_id
        {
            return Err(MessageError::MessageIdMismatch {
                property: message_id,
                body: in_body,
            });
        }
        let order = Order::try_from(&body)?;
        Ok(OrderRow {
            message_id,
            order,
            principal: body.principal,
            owner_sub: body.owner_sub,
        })
    }
}

/// Handles one event: stores what is valid, dead-letters what never will be, and fails (for a
/// redelivery) on anything transient.
#[tracing::instrument(skip(event, ctx), fields(batch = event.len()))]
pub async fn handle(event: RabbitMqEvent, ctx: &Consumer) -> Result<Report, ConsumerError> {
    let started = Instant::now();
    let batch_size = event.len();
    let mut report = Report::default();
    let decoded = decode_batch(&event, &mut report);
    store_batch(ctx, decoded, batch_size, &mut report).await?;
    send_dead_letters(ctx, &mut report).await?;
    summarise(ctx, &report, batch_size, started);
    Ok(report)
}

/// The valid messages of a batch, each `message_id` once, with where each came from.
#[derive(Default)]
struct Decoded<'a> {
    rows: Vec<OrderRow>,
    /// The queue and message of each row (same index), for a row the database may still refuse.
    origins: Vec<(&'a str, &'a RabbitMqMessage)>,
    /// Messages repeating a `message_id` earlier in the same batch.
    in_batch_duplicates: Vec<Uuid>,
}

/// The dead letter of `entry` from `source`: its body, or the entry itself when it has none.
fn dead_letter(
    message_id: Option<String>,
    reason: &MessageError,
    source: &str,
    entry: &Entry,
) -> DeadLetter {
    match entry {
        Entry::Message(m) => DeadLetter::new(
            message_id,
            reason.to_string(),
            source,
            m.data.as_ref().map(billing::rmq::Data::as_str),
            m,
        ),
        Entry::Unreadable(u) => {
            DeadLetter::new(message_id, reason.to_string(), source, None, &u.raw)
        }
    }
}

/// Step 1: decodes every message; the ones that can never be stored become dead letters.
fn decode_batch<'a>(event: &'a RabbitMqEvent, report: &mut Report) -> Decoded<'a> {
    let mut decoded = Decoded::default();
    let mut seen: HashSet<Uuid> = HashSet::new();
    for (source, entry) in event.messages() {
        let outcome = match entry {
            Entry::Message(m) => OrderRow::try_from(m).map(|row| (row, m)),
            Entry::Unreadable(u) => Err(MessageError::Envelope(u.error.clone())),
        };
        match outcome {
            Ok((row, m)) if seen.insert(row.message_id) => {
                decoded.origins.push((source, m));
                decoded.rows.push(row);
            }
            Ok((row, _)) => decoded.in_batch_duplicates.push(row.message_id),
            Err(reason) => {
                let message_id = match entry {
                    Entry::Message(m) => m.basic_properties.message_id.clone(),
                    Entry::Unreadable(_) => None,
                };
                tracing::warn!(message_id = message_id.as_deref().unwrap_or("none"), %reason, "poison message");
                report
                    .dead_lettered
                    .push(dead_letter(message_id, &reason, source, entry));
            }
        }
    }
    decoded
}

/// Step 2: stores the rows with one statement (bisecting when the database refuses some rows'
/// data, which become dead letters) and sorts them into stored and duplicates. Any other
/// database error fails the batch for a redelivery.
async fn store_batch(
    ctx: &Consumer,
    decoded: Decoded<'_>,
    batch_size: usize,
    report: &mut Report,
) -> Result<(), ConsumerError> {
    let Decoded {
        rows,
        origins,
        in_batch_duplicates,
    } = decoded;
    let store_started = Instant::now();
    let stored = store::insert_isolating(&ctx.db, &rows)
        .await
        .map_err(|e| fail(ctx, batch_size, e))?;
    report.statements = stored.statements;
    report.store_time = store_started.elapsed();
    if !stored.rejected.is_empty() {
        tracing::warn!(
            statements = stored.statements,
            rejected = stored.rejected.len(),
            "the database refused some rows' data; bisected the batch to isolate them"
        );
    }
    let rejected: HashSet<usize> = stored.rejected.iter().map(|(i, _)| *i).collect();
    for (index, why) in stored.rejected {
        let row = &rows[index];
        let reason = MessageError::Rejected(why);
        tracing::warn!(message_id = %row.message_id, %reason, "poison message");
        let (source, message) = origins[index];
        report.dead_lettered.push(DeadLetter::new(
            Some(row.message_id.to_string()),
            reason.to_string(),
            source,
            message.data.as_ref().map(billing::rmq::Data::as_str),
            message,
        ));
    }
    for (_, row) in rows
        .iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(i))
    {
        if stored.inserted.contains(&row.message_id) {
            report.stored.push(row.message_id);
        } else {
            report.duplicates.push(row.message_id);
        }
    }
    report.duplicates.extend(in_batch_duplicates);
    Ok(())
}

/// Step 3: sends the dead letters, if any, to the SQS dead-letter queue.
async fn send_dead_letters(ctx: &Consumer, report: &mut Report) -> Result<(), ConsumerError> {
    if !report.dead_lettered.is_empty() {
        let dlq_started = Instant::now();
        report.dlq_requests = dlq::send(&ctx.sqs, &ctx.dlq_url, &report.dead_lettered).await?;
        report.dlq_time = dlq_started.elapsed();
    }
    Ok(())
}

/// Step 4: one log line and one EMF line for the batch.
fn summarise(ctx: &Consumer, report: &Report, batch_size: usize, started: Instant) {
    let dead: Vec<String> = report
        .dead_lettered
        .iter()
        .map(|d| d.message_id.clone().unwrap_or_else(|| "none".into()))
        .collect();
    tracing::info!(
        batch = batch_size,
        stored = ?report.stored,
        duplicates = ?report.duplicates,
        dead_lettered = ?dead,
        statements = report.statements,
        store_ms = report.store_time.as_millis() as u64,
        dlq_requests = report.dlq_requests,
        dlq_ms = report.dlq_time.as_millis() as u64,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "batch done"
    );
    ctx.metrics.emit(&[
        ("OrdersStored", report.stored.len() as f64, Unit::Count),
        (
            "OrdersDuplicated",
            report.duplicates.len() as f64,
            Unit::Count,
        ),
        (
            "OrdersDeadLettered",
            report.dead_lettered.len() as f64,
            Unit::Count,
        ),
        ("BatchSize", batch_size as f64, Unit::Count),
        ("DbErrors", 0.0, Unit::Count),
    ]);
}

fn fail(ctx: &Consumer, batch_size: usize, e: DbError) -> ConsumerError {
    tracing::error!(error = %e, batch = batch_size, "database error (not the data's fault); failing the batch for redelivery");
    ctx.metrics.emit(&[
        ("BatchSize", batch_size as f64, Unit::Count),
        ("DbErrors", 1.0, Unit::Count),
    ]);
    ConsumerError::Database(e)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use billing::rmq::Data;
    use serde_json::{Value, json};

    use super::*;

    fn message(props: Value, body: &str) -> RabbitMqMessage {
        serde_json::from_value(json!({
            "basicProperties": props,
            "redelivered": false,
            "data": base64::engine::general_purpose::STANDARD.encode(body),
        }))
        .unwrap()
    }

    fn decode(m: &RabbitMqMessage) -> Result<OrderRow, MessageError> {
        OrderRow::try_from(m)
    }

    #[test]
    fn decode_checks_message_id_and_fields() {
        let id = Uuid::new_v4();
        let ok = message(
            json!({"messageId": id.to_string(), "priority": null}),
            &format!(
                r#"{{"message_id":"{id}","user_id":3,"number_of_items":2,"total_amount":"9.9","principal":"bob","owner_sub":"s-1","extra":1}}"#
            ),
        );
        let row = decode(&ok).unwrap();
        assert_eq!(row.message_id, id);
        assert_eq!(row.order.total_amount.to_string(), "9.90");
        assert_eq!(row.principal.as_deref(), Some("bob"));
        assert_eq!(row.owner_sub.as_deref(), Some("s-1"));

        let body = r#"{"user_id":1,"number_of_items":1,"total_amount":"1"}"#;
        let with = |props: Value, body: &str| decode(&message(props, body)).unwrap_err();
        assert!(matches!(
            with(json!({"messageId": null}), body),
            MessageError::MissingMessageId
        ));
        let err = with(json!({"messageId": "x"}), body);
        assert!(
            matches!(&err, MessageError::BadMessageId { property, .. } if property == "x"),
            "{err:?}"
        );
        assert!(
            std::error::Error::source(&err).is_some(),
            "keeps uuid's error"
        );
        let other = format!(
            r#"{{"message_id":"{}","user_id":1,"number_of_items":1,"total_amount":"1"}}"#,
            Uuid::new_v4()
        );
        let props = json!({"messageId": id.to_string()});
        assert!(matches!(
            with(props.clone(), &other),
            MessageError::MessageIdMismatch { property, .. } if property == id
        ));
        let err = with(props.clone(), "nope");
        assert!(matches!(err, MessageError::Json(_)), "{err:?}");
        assert!(
            err.to_string().starts_with("body is not a JSON order"),
            "{err}"
        );
        let err = with(
            props.clone(),
            r#"{"user_id":"not-a-number","number_of_items":1,"total_amount":"5.00"}"#,
        );
        assert!(
            matches!(&err, MessageError::Json(e) if e.path().to_string() == "user_id"),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("user_id"),
            "the reason names the field: {err}"
        );
        let err = with(
            props.clone(),
            r#"{"user_id":1,"number_of_items":0,"total_amount":"1"}"#,
        );
        assert!(
            matches!(
                err,
                MessageError::Invalid(ValidationError {
                    field: "number_of_items",
                    ..
                })
            ),
            "{err:?}"
        );
        let mut no_data = message(props.clone(), body);
        no_data.data = None;
        assert!(matches!(decode(&no_data), Err(MessageError::NoData)));
        no_data.data = Some(Data::from("%%%".to_owned()));
        assert!(matches!(decode(&no_data), Err(MessageError::Base64(_))));
    }

    #[test]
    fn real_event_with_nulls_decodes() {
        let raw = include_str!("../../../events/rabbitmq-batch.json");
        assert!(raw.contains(r#""priority": null"#));
        let event: RabbitMqEvent = serde_json::from_str(raw).unwrap();
        let messages: Vec<&RabbitMqMessage> = event
            .messages()
            .map(|(_, entry)| match entry {
                Entry::Message(m) => m,
                Entry::Unreadable(u) => panic!("despite the nulls, every entry reads: {u:?}"),
            })
            .collect();
        assert_eq!(messages.len(), 4);
        let outcomes: Vec<_> = messages.iter().map(|m| decode(m)).collect();
        // Two orders (one delivered twice) and one whose user_id is not a number.
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 3);
        assert!(
            matches!(&outcomes[3], Err(MessageError::Json(e)) if e.path().to_string() == "user_id"),
            "{:?}",
            outcomes[3]
        );
    }

    #[test]
    fn dead_letter_keeps_the_original_body() {
        let raw = serde_json::json!({});
        let text = base64::engine::general_purpose::STANDARD.encode("not json");
        let d = DeadLetter::new(None, "r".into(), "q::/", Some(&text), &raw);
        assert_eq!((d.body.as_str(), d.encoding), ("not json", "text"));
        let binary = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]);
        let d = DeadLetter::new(None, "r".into(), "q::/", Some(&binary), &raw);
        assert_eq!((d.body.as_str(), d.encoding), (binary.as_str(), "base64"));
        let d = DeadLetter::new(None, "r".into(), "q::/", None, &serde_json::json!({"x": 1}));
        assert_eq!((d.body.as_str(), d.encoding), (r#"{"x":1}"#, "event-json"));
    }
}
