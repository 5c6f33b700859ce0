//! The broker topology, declared in one place: the deploy-time setup function, billing-api's
//! publisher and the tests all call [`declare`].
//!
//! The work queue carries no `x-` arguments: its dead-letter exchange comes from a RabbitMQ
//! policy (setup's `ensure_dead_letter_policy`), so any declaration of it as a plain durable
//! queue is equivalent to ours. RabbitMQ refuses a declaration whose arguments differ
//! (`PRECONDITION_FAILED`), and whether the Lambda event source mapping's poller declares the
//! queue is not documented; with a policy it may
//! (<https://www.rabbitmq.com/docs/dlx>: a policy is the recommended way; an argument set before overrules it).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ExchangeKind};

pub const DEFAULT_QUEUE: &str = "billing_queue";

/// The exchange the broker dead-letters `queue`'s rejected or expired messages to.
pub fn dead_letter_exchange(queue: &str) -> String {
    format!("{queue}.dlx")
}

/// Where those messages wait for an operator.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dead")
}

/// The policy key that names a queue's dead-letter exchange.
pub const DEAD_LETTER_EXCHANGE_KEY: &str = "dead-letter-exchange";

/// Declares the durable work queue and its dead-letter exchange and queue. Idempotent. A work
/// queue that exists already is left as it is (one declared with the `x-dead-letter-exchange`
/// argument, as before the policy, keeps it: same effect); each step on a channel of its own,
/// since a refused declaration closes its channel.
pub async fn declare(connection: &Connection, queue: &str) -> Result<(), lapin::Error> {
    let dlx = dead_letter_exchange(queue);
    let dlq = dead_letter_queue(queue);
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let channel = connection.create_channel().await?;
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
    let _ = channel.close(200, "declared".into()).await;
    let probe = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    if probe
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .is_ok()
    {
        let _ = probe.close(200, "exists".into()).await;
        return Ok(());
    }
    let channel = connection.create_channel().await?;
    channel
        .queue_declare(queue.into(), durable, FieldTable::default())
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}
