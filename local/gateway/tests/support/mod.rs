//! What the gateway's RabbitMQ tests share: a durable queue of a test's own on the real broker
//! (scripts/services.sh; `AMQP_URL`, which `.local/env` sets).

#![allow(dead_code)] // each test binary uses its own part

use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

pub fn amqp_url() -> String {
    std::env::var("AMQP_URL").unwrap_or_else(|_| "amqp://127.0.0.1:5673/%2f".into())
}

/// A durable queue named `<prefix>_<random>` and a publisher-confirms channel to it.
pub struct TestQueue {
    pub name: String,
    pub channel: Channel,
    _conn: Connection,
}

impl TestQueue {
    pub async fn new(prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .unwrap_or_else(|e| panic!("RabbitMQ at {} (make services): {e}", amqp_url()));
        let channel = conn.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .queue_declare(name.as_str().into(), durable, FieldTable::default())
            .await
            .unwrap();
        Self {
            name,
            channel,
            _conn: conn,
        }
    }

    /// Publishes a persistent message with `properties` and waits for the broker's confirm.
    pub async fn publish(&self, body: &[u8], properties: BasicProperties) {
        self.channel
            .basic_publish(
                "".into(),
                self.name.as_str().into(),
                BasicPublishOptions::default(),
                body,
                properties.with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Messages ready in the queue (a passive declare's count).
    pub async fn waiting(&self) -> u32 {
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.channel
            .queue_declare(self.name.as_str().into(), passive, FieldTable::default())
            .await
            .unwrap()
            .message_count()
    }

    /// Deletes the queue (best effort).
    pub async fn delete(&self) {
        let _ = self
            .channel
            .queue_delete(self.name.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
}
