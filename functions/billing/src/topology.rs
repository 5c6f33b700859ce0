//! The broker topology, declared in one place: the deploy-time setup function, billing-api's
//! publisher and the tests all call [`declare`], so the arguments can never disagree (RabbitMQ
//! refuses a second declaration of a queue with different arguments).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

pub const DEFAULT_QUEUE: &str = "billing_queue";

/// The exchange the broker dead-letters `queue`'s rejected or expired messages to.
pub fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

/// Where those messages wait for an operator.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// Declares the durable work queue and its dead-letter exchange and queue. Idempotent.
pub async fn declare(channel: &Channel, queue: &str) -> Result<(), lapin::Error> {
    let dlx = dead_letter_exchange(queue);
    let dlq = dead_letter_queue(queue);
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .exchange_declare(
            dlx.as_str().into(),
            ExchangeKind::Direct,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(dlq.as_str().into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            dlq.as_str().into(),
            dlx.as_str().into(),
            queue.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(dlx.as_str().into()),
    );
    channel.queue_declare(queue.into(), durable, args).await?;
    Ok(())
}
