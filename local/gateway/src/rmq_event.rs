//! The Lambda event Amazon MQ's event source mapping builds from RabbitMQ deliveries (`aws:rmq`),
//! built in one place for the gateway's mapping, the tests and the bench, as the type
//! billing-consumer reads ([`billing::rmq`]). The shape follows the example event in the AWS
//! documentation (<https://docs.aws.amazon.com/lambda/latest/dg/with-mq.html>), checked below
//! against it.

use billing::rmq::{Data, Entry, RabbitMqEvent, RabbitMqMessage};
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::AMQPValue;
use serde_json::{Map, Value, json};

/// Where the messages of an event come from: the broker's ARN, the queue and its virtual host.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub broker_arn: &'a str,
    pub queue: &'a str,
    pub virtual_host: &'a str,
}

/// The event the mapping sends for one batch of deliveries.
pub fn event(source: &Source, batch: &[Delivery]) -> RabbitMqEvent {
    event_of(source, batch.iter().map(message))
}

/// The event around messages already rendered (by [`message`] or [`rmq_message`]), or made by
/// hand as JSON to test what a consumer does with odd ones.
pub fn event_of<E: Into<Entry>>(
    source: &Source,
    messages: impl IntoIterator<Item = E>,
) -> RabbitMqEvent {
    RabbitMqEvent::new(
        source.broker_arn,
        source.queue,
        source.virtual_host,
        messages.into_iter().map(Into::into).collect(),
    )
}

/// One delivery as the mapping renders it.
pub fn message(delivery: &Delivery) -> RabbitMqMessage {
    rmq_message(&delivery.properties, delivery.redelivered, &delivery.data)
}

/// One message from its parts (the bench renders messages it never published).
pub fn rmq_message(p: &BasicProperties, redelivered: bool, data: &[u8]) -> RabbitMqMessage {
    let s = |v: &Option<lapin::types::ShortString>| v.as_ref().map(|s| s.as_str().to_owned());
    let headers = p.headers().as_ref().map(|t| {
        t.inner()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), amqp_value(v)))
            .collect::<Map<_, _>>()
    });
    RabbitMqMessage {
        basic_properties: billing::rmq::BasicProperties {
            content_type: s(p.content_type()),
            content_encoding: s(p.content_encoding()),
            headers,
            delivery_mode: *p.delivery_mode(),
            priority: *p.priority(),
            correlation_id: s(p.correlation_id()),
            reply_to: s(p.reply_to()),
            expiration: s(p.expiration()),
            message_id: s(p.message_id()),
            timestamp: p.timestamp().map(|t| crate::time::rmq_timestamp(t as i64)),
            kind: s(p.kind()),
            user_id: s(p.user_id()),
            app_id: s(p.app_id()),
            cluster_id: s(p.cluster_id()),
            body_size: Some(data.len() as u64),
        },
        redelivered,
        data: Some(Data::encode(data)),
    }
}

/// Header values as the AWS mapping (a Java client) renders them: strings as `{"bytes": [...]}`.
fn amqp_value(v: &AMQPValue) -> Value {
    match v {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Float(n) => json!(n),
        AMQPValue::Double(n) => json!(n),
        AMQPValue::DecimalValue(d) => json!(f64::from(d.value) / 10f64.powi(i32::from(d.scale))),
        AMQPValue::ShortString(s) => json!(s.as_str()),
        AMQPValue::LongString(s) => json!({ "bytes": s.as_bytes() }),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_value).collect()),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::FieldTable(t) => Value::Object(
            t.inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), amqp_value(v)))
                .collect(),
        ),
        AMQPValue::ByteArray(b) => json!({ "bytes": b.as_slice() }),
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::rabbitmq::RabbitMqEvent as AwsRabbitMqEvent;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use lapin::types::{FieldTable, LongString, ShortString};
    use std::collections::BTreeMap;

    #[test]
    fn event_has_the_amazon_mq_shape() {
        let mut headers = BTreeMap::new();
        headers.insert(
            ShortString::from("header1"),
            AMQPValue::LongString(LongString::from("value1")),
        );
        headers.insert(ShortString::from("numberInHeader"), AMQPValue::LongInt(10));
        let props = BasicProperties::default()
            .with_content_type("text/plain".into())
            .with_headers(FieldTable::from(headers))
            .with_delivery_mode(1)
            .with_priority(34)
            .with_expiration("60000".into())
            .with_timestamp(2021)
            .with_user_id("AIDACKCEVSQ6C2EXAMPLE".into());
        let data = br#"{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}"#;
        let ours = serde_json::to_value(rmq_message(&props, false, data)).unwrap();
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/example-rabbitmq-event.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let mut expected = reference["rmqMessagesByQueue"]["test::/"][0].clone();
        expected["basicProperties"]["headers"]
            .as_object_mut()
            .unwrap()
            .remove("header2");
        expected["basicProperties"]["bodySize"] = json!(data.len());
        assert_eq!(ours, expected);

        let source = Source {
            broker_arn: "arn:aws:mq:us-east-1:123456789012:broker:local:b-1",
            queue: "billing_queue",
            virtual_host: "/",
        };
        let event = serde_json::to_value(event_of(&source, vec![ours])).unwrap();
        assert_eq!(event["eventSource"], reference["eventSource"]);
        // The AWS crate's type reads it too (no nulls here), and so does billing's.
        let typed: AwsRabbitMqEvent = serde_json::from_value(event.clone()).unwrap();
        let msgs = &typed.messages_by_queue["billing_queue::/"];
        assert_eq!(B64.decode(msgs[0].data.as_deref().unwrap()).unwrap(), data);
        let ours: RabbitMqEvent = serde_json::from_value(event).unwrap();
        let Some((queue, Entry::Message(m))) = ours.messages().next() else {
            panic!("{ours:?}")
        };
        assert_eq!(queue, "billing_queue::/");
        assert_eq!(m.data.as_ref().unwrap().decode().unwrap(), data);
    }

    #[test]
    fn absent_properties_are_null_as_on_aws() {
        let m = serde_json::to_value(rmq_message(
            &BasicProperties::default().with_message_id("m1".into()),
            true,
            b"{}",
        ))
        .unwrap();
        assert_eq!(m["basicProperties"]["priority"], Value::Null);
        assert_eq!(m["basicProperties"]["messageId"], "m1");
        assert_eq!(m["redelivered"], true);
    }
}
