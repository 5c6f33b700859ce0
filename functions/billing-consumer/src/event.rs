//! The Amazon MQ for RabbitMQ event, decoded leniently.
//!
//! `aws_lambda_events::rabbitmq` declares `priority` and `deliveryMode` as plain `u8`, but real
//! events carry `"priority": null`, which would fail the whole batch before our code runs (and
//! redeliver it forever). Here every property is optional, and each message stays raw JSON
//! until [`RabbitMqEvent::messages`] decodes it, so one odd message cannot sink its batch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqEvent {
    #[serde(default)]
    pub event_source: Option<String>,
    #[serde(default)]
    pub event_source_arn: Option<String>,
    /// `"<queue>::<vhost>"` to that queue's messages, e.g. `"billing_queue::/"`.
    #[serde(default)]
    pub rmq_messages_by_queue: BTreeMap<String, Vec<Value>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqMessage {
    #[serde(default)]
    pub basic_properties: BasicProperties,
    #[serde(default)]
    pub redelivered: Option<bool>,
    #[serde(default)]
    pub data: Option<String>,
}

/// The AMQP properties as the event source mapping renders them. Only `message_id` matters
/// here; the rest is kept loosely typed so no rendering quirk fails the decode.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BasicProperties {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<Value>,
    #[serde(default)]
    pub headers: Option<Value>,
    #[serde(default)]
    pub delivery_mode: Option<Value>,
    #[serde(default)]
    pub priority: Option<Value>,
    #[serde(default)]
    pub correlation_id: Option<Value>,
    #[serde(default)]
    pub reply_to: Option<Value>,
    #[serde(default)]
    pub expiration: Option<Value>,
    #[serde(default)]
    pub message_id: Option<Value>,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default, rename = "type")]
    pub kind: Option<Value>,
    #[serde(default)]
    pub user_id: Option<Value>,
    #[serde(default)]
    pub app_id: Option<Value>,
    #[serde(default)]
    pub cluster_id: Option<Value>,
    #[serde(default)]
    pub body_size: Option<Value>,
}

impl BasicProperties {
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_ref().and_then(Value::as_str)
    }
}

/// One message of the batch: decoded, or the reason it could not be.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `"billing_queue::/"`.
    pub source: String,
    pub raw: Value,
    pub message: Result<RabbitMqMessage, String>,
}

impl RabbitMqEvent {
    /// Every message of every queue in the event, in delivery order.
    pub fn messages(&self) -> Vec<Envelope> {
        self.rmq_messages_by_queue
            .iter()
            .flat_map(|(source, messages)| {
                messages.iter().map(move |raw| Envelope {
                    source: source.clone(),
                    raw: raw.clone(),
                    message: serde_json::from_value(raw.clone()).map_err(|e| {
                        format!("message does not look like an Amazon MQ message: {e}")
                    }),
                })
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.rmq_messages_by_queue.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
