//! The `aws:rmq` event: what Amazon MQ's event source mapping sends billing-consumer for a batch
//! of RabbitMQ deliveries. The local gateway builds it and the consumer reads it, so both sides
//! agree on one shape: the AWS documentation's (<https://docs.aws.amazon.com/lambda/latest/dg/with-mq.html>).
//!
//! Not `aws_lambda_events::rabbitmq`: it declares `priority` and `deliveryMode` as plain `u8`,
//! but real events carry `"priority": null`, which would fail the whole batch before our code
//! runs (and redeliver it forever). Here every property is optional, and a message that does not
//! have the documented shape is kept as it came ([`Entry::Unreadable`]), so one odd message
//! cannot sink its batch.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// `eventSource` of every such event.
pub const EVENT_SOURCE: &str = "aws:rmq";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqEvent {
    #[serde(default)]
    pub event_source: Option<String>,
    #[serde(default)]
    pub event_source_arn: Option<String>,
    /// `"<queue>::<vhost>"` to that queue's messages, e.g. `"billing_queue::/"`.
    #[serde(default)]
    pub rmq_messages_by_queue: BTreeMap<String, Vec<Entry>>,
}

impl RabbitMqEvent {
    /// The event for `messages` from `queue` on `virtual_host` of the broker `broker_arn`.
    pub fn new(broker_arn: &str, queue: &str, virtual_host: &str, messages: Vec<Entry>) -> Self {
        Self {
            event_source: Some(EVENT_SOURCE.into()),
            event_source_arn: Some(broker_arn.into()),
            rmq_messages_by_queue: BTreeMap::from([(format!("{queue}::{virtual_host}"), messages)]),
        }
    }

    /// Every message of every queue, in delivery order, with its `"<queue>::<vhost>"`.
    pub fn messages(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.rmq_messages_by_queue
            .iter()
            .flat_map(|(source, entries)| entries.iter().map(move |e| (source.as_str(), e)))
    }

    pub fn len(&self) -> usize {
        self.rmq_messages_by_queue.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One element of `rmqMessagesByQueue`: a message, or what came instead of one.
// The large variant is the common one: boxing it would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Entry {
    Message(RabbitMqMessage),
    Unreadable(Unreadable),
}

/// An entry without the documented shape, kept whole for the dead-letter queue.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub raw: Value,
    /// Shared so the event stays `Clone` (a test replays one); `serde_json::Error` is not.
    pub error: Arc<serde_json::Error>,
}

impl From<RabbitMqMessage> for Entry {
    fn from(m: RabbitMqMessage) -> Self {
        Self::Message(m)
    }
}

/// Reads an entry from its JSON: a message when it has the shape, else [`Entry::Unreadable`].
impl From<Value> for Entry {
    fn from(raw: Value) -> Self {
        // From a reference: the raw JSON is kept only when it is not a message.
        match RabbitMqMessage::deserialize(&raw) {
            Ok(m) => Self::Message(m),
            Err(e) => Self::Unreadable(Unreadable {
                raw,
                error: Arc::new(e),
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Entry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from)
    }
}

impl Serialize for Entry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Message(m) => m.serialize(serializer),
            Self::Unreadable(u) => u.raw.serialize(serializer),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RabbitMqMessage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub basic_properties: BasicProperties,
    #[serde(default, deserialize_with = "null_as_default")]
    pub redelivered: bool,
    #[serde(default)]
    pub data: Option<Data>,
}

/// The AMQP properties as the mapping renders them: an absent property is `null`, never left
/// out (so each is an `Option`, read the same whether `null` or missing). Only `messageId`
/// decides anything (the order's idempotency key): any other property of an unexpected type
/// reads as `None`, so that a rendering AWS does not document never dead-letters a valid order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BasicProperties {
    #[serde(deserialize_with = "lenient")]
    pub content_type: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub content_encoding: Option<String>,
    /// Header values as the mapping (a Java client) renders them: strings as `{"bytes": [...]}`.
    #[serde(deserialize_with = "lenient")]
    pub headers: Option<Map<String, Value>>,
    #[serde(deserialize_with = "lenient")]
    pub delivery_mode: Option<u8>,
    #[serde(deserialize_with = "lenient")]
    pub priority: Option<u8>,
    #[serde(deserialize_with = "lenient")]
    pub correlation_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub reply_to: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub expiration: Option<String>,
    pub message_id: Option<String>,
    /// As the mapping prints it: `"Jan 1, 1970, 12:33:41 AM"`.
    #[serde(deserialize_with = "lenient")]
    pub timestamp: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub app_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub cluster_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub body_size: Option<u64>,
}

/// A property the consumer does not use: its value if it has the documented type, else `None`.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

/// A message body as the event carries it: base64 text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Data(String);

impl Data {
    pub fn encode(body: &[u8]) -> Self {
        Self(B64.encode(body))
    }

    /// The text as it came (the dead letter of a body that is not base64 carries it).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The body. Surrounding whitespace is ignored, as a line-wrapped encoder may add it.
    pub fn decode(&self) -> Result<Vec<u8>, base64::DecodeError> {
        B64.decode(self.0.trim())
    }
}

impl From<String> for Data {
    /// Text taken as it is, base64 or not: a test makes bodies that are not.
    fn from(text: String) -> Self {
        Self(text)
    }
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nulls_and_absences_read_as_none_and_an_odd_entry_is_kept() {
        let event: RabbitMqEvent = serde_json::from_value(json!({
            "eventSource": "aws:rmq",
            "eventSourceArn": null,
            "rmqMessagesByQueue": {"q::/": [
                {"basicProperties": {"priority": null, "deliveryMode": null, "messageId": "m1",
                                     "headers": null, "bodySize": null},
                 "redelivered": null, "data": "e30="},
                {"data": null},
                {"basicProperties": {"priority": "high", "timestamp": 12, "messageId": "m3"}, "data": "e30="},
                {"basicProperties": {"messageId": 7}, "data": "e30="},
                "not an object",
            ]},
        }))
        .unwrap();
        assert_eq!(event.len(), 5);
        let entries: Vec<&Entry> = event
            .messages()
            .map(|(source, e)| {
                assert_eq!(source, "q::/");
                e
            })
            .collect();
        let Entry::Message(first) = entries[0] else {
            panic!("{:?}", entries[0])
        };
        assert_eq!(first.basic_properties.message_id.as_deref(), Some("m1"));
        assert_eq!(first.basic_properties.priority, None);
        assert!(!first.redelivered);
        assert_eq!(first.data.as_ref().unwrap().decode().unwrap(), b"{}");
        assert!(
            matches!(entries[1], Entry::Message(m) if m.data.is_none() && *m == RabbitMqMessage::default())
        );
        // A property of an undocumented type is dropped, the message kept.
        let Entry::Message(third) = entries[2] else {
            panic!("{:?}", entries[2])
        };
        assert_eq!(third.basic_properties.message_id.as_deref(), Some("m3"));
        assert_eq!(
            (
                third.basic_properties.priority,
                third.basic_properties.timestamp.as_deref()
            ),
            (None, None)
        );
        for odd in &entries[3..] {
            let Entry::Unreadable(u) = odd else {
                panic!("{odd:?}")
            };
            // Kept as it came, and written back as it came.
            assert_eq!(serde_json::to_value(odd).unwrap(), u.raw);
        }
    }

    #[test]
    fn a_message_writes_every_property_null_when_absent() {
        let m = RabbitMqMessage {
            data: Some(Data::encode(b"{}")),
            ..Default::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        let props = v["basicProperties"].as_object().unwrap();
        assert_eq!(props.len(), 15, "{props:?}");
        assert!(props.values().all(Value::is_null));
        assert_eq!(v["data"], "e30=");
        assert_eq!(v["redelivered"], false);
        let back: RabbitMqMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn data_is_base64() {
        assert_eq!(Data::encode(b"abc").as_str(), "YWJj");
        assert_eq!(Data::from(" YWJj\n".to_owned()).decode().unwrap(), b"abc");
        assert!(Data::from("not base64!".to_owned()).decode().is_err());
    }
}
