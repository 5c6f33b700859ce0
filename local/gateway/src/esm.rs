//! The Amazon MQ (RabbitMQ) event source mapping: consumes a queue, gathers batches (batch
//! size and batching window as on AWS, defaults 100 and 500 ms), invokes the function with the
//! `aws:rmq` event, acknowledges the batch when the function succeeds and requeues it when it
//! fails, backing off so a failing dependency does not make it spin.
//!
//! Disabling it (the local `update-event-source-mapping --no-enabled`) closes its channel: the
//! broker requeues anything not yet acknowledged and keeps new messages in the queue.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::lambda::LambdaService;

#[derive(Debug, Clone)]
pub struct EsmConfig {
    pub function: String,
    pub amqp_url: String,
    pub queue: String,
    pub virtual_host: String,
    pub batch_size: u16,
    pub batching_window: Duration,
    pub enabled: bool,
    pub broker_arn: String,
}

impl EsmConfig {
    pub fn new(function: &str, amqp_url: &str, queue: &str) -> Self {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        Self {
            function: function.to_owned(),
            amqp_url: amqp_url.to_owned(),
            queue: queue.to_owned(),
            virtual_host: "/".into(),
            batch_size: 100,
            batching_window: Duration::from_millis(500),
            enabled: true,
            broker_arn: format!(
                "arn:aws:mq:{region}:{}:broker:local:b-{}",
                crate::lambda::ACCOUNT_ID,
                uuid::Uuid::new_v4()
            ),
        }
    }
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    messages: AtomicU64,
    failures: AtomicU64,
    connected: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// A running mapping. Dropping it does not stop it; call [`EventSourceMapping::stop`].
pub struct EventSourceMapping {
    cfg: EsmConfig,
    enabled: watch::Sender<bool>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl EventSourceMapping {
    pub fn start(cfg: EsmConfig, lambda: LambdaService) -> Self {
        let (enabled, rx) = watch::channel(cfg.enabled);
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(run(cfg.clone(), lambda, rx, stats.clone()));
        Self {
            cfg,
            enabled,
            stats,
            task,
        }
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.send_replace(on);
        tracing::info!(queue = %self.cfg.queue, function = %self.cfg.function, enabled = on, "event source mapping updated");
    }

    pub fn status(&self) -> Value {
        let s = &self.stats;
        json!({
            "UUID": self.cfg.broker_arn.rsplit(":b-").next(),
            "FunctionName": self.cfg.function,
            "EventSourceArn": self.cfg.broker_arn,
            "Queues": [self.cfg.queue],
            "BatchSize": self.cfg.batch_size,
            "MaximumBatchingWindowInSeconds": self.cfg.batching_window.as_secs_f64(),
            "State": if *self.enabled.borrow() { "Enabled" } else { "Disabled" },
            "Connected": s.connected.load(Ordering::SeqCst),
            "Batches": s.batches.load(Ordering::SeqCst),
            "Messages": s.messages.load(Ordering::SeqCst),
            "FailedBatches": s.failures.load(Ordering::SeqCst),
            "LastProcessingResult": s.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone().unwrap_or_else(|| "OK".into()),
        })
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn run(
    cfg: EsmConfig,
    lambda: LambdaService,
    mut enabled: watch::Receiver<bool>,
    stats: Arc<Stats>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        if enabled.wait_for(|on| *on).await.is_err() {
            return;
        }
        match session(&cfg, &lambda, &mut enabled, &stats).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(e) => {
                stats.connected.store(false, Ordering::SeqCst);
                let mut last = stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .replace(e.clone());
                // Say it once per distinct problem, not on every retry.
                if last.take().as_deref() != Some(e.as_str()) {
                    tracing::warn!(queue = %cfg.queue, error = %e, "event source mapping: broker not usable; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One connection's life: returns Ok when disabled, Err when the broker failed.
async fn session(
    cfg: &EsmConfig,
    lambda: &LambdaService,
    enabled: &mut watch::Receiver<bool>,
    stats: &Stats,
) -> Result<(), String> {
    let conn = Connection::connect(&cfg.amqp_url, ConnectionProperties::default())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let channel = conn
        .create_channel()
        .await
        .map_err(|e| format!("channel: {e}"))?;
    channel
        .basic_qos(cfg.batch_size, BasicQosOptions::default())
        .await
        .map_err(|e| format!("qos: {e}"))?;
    // The publisher (billing-api) owns the queue's topology (durable, dead-letter exchange);
    // we only check it exists, as the AWS mapping does.
    channel
        .queue_declare(
            cfg.queue.as_str().into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| {
            format!(
                "queue {} is not there yet (billing-api declares it): {e}",
                cfg.queue
            )
        })?;
    let mut consumer = channel
        .basic_consume(
            cfg.queue.as_str().into(),
            "local-event-source-mapping".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| format!("consume: {e}"))?;
    stats.connected.store(true, Ordering::SeqCst);
    tracing::info!(queue = %cfg.queue, function = %cfg.function, "event source mapping consuming");
    let mut backoff = Duration::from_secs(1);

    let result = loop {
        let first = tokio::select! {
            d = consumer.next() => d,
            _ = enabled.wait_for(|on| !*on) => break Ok(()),
        };
        let first = match first {
            Some(Ok(d)) => d,
            Some(Err(e)) => break Err(format!("delivery: {e}")),
            None => break Err("the broker cancelled the consumer".into()),
        };
        let mut batch = vec![first];
        let window = tokio::time::sleep(cfg.batching_window);
        tokio::pin!(window);
        while batch.len() < usize::from(cfg.batch_size) {
            tokio::select! {
                d = consumer.next() => match d {
                    Some(Ok(d)) => batch.push(d),
                    _ => break,
                },
                _ = &mut window => break,
            }
        }
        let last_tag = batch.last().map(|d| d.delivery_tag).unwrap_or_default();
        let event = rmq_event(cfg, &batch);
        let count = batch.len();
        let outcome = lambda
            .invoke(&cfg.function, Bytes::from(event.to_string()))
            .await;
        let failure = match outcome {
            Ok(inv) if inv.function_error.is_none() => None,
            Ok(inv) => Some(format!(
                "function error: {}",
                String::from_utf8_lossy(&inv.payload)
            )),
            Err(e) => Some(e.to_string()),
        };
        stats.batches.fetch_add(1, Ordering::SeqCst);
        match failure {
            None => {
                if let Err(e) = channel
                    .basic_ack(last_tag, BasicAckOptions { multiple: true })
                    .await
                {
                    break Err(format!("ack: {e}"));
                }
                stats.messages.fetch_add(count as u64, Ordering::SeqCst);
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                backoff = Duration::from_secs(1);
                tracing::debug!(count, "batch acknowledged");
            }
            Some(reason) => {
                stats.failures.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(count, %reason, retry_in = ?backoff, "batch failed; requeued");
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
                if let Err(e) = channel
                    .basic_nack(
                        last_tag,
                        BasicNackOptions {
                            multiple: true,
                            requeue: true,
                        },
                    )
                    .await
                {
                    break Err(format!("nack: {e}"));
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = enabled.wait_for(|on| !*on) => break Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    };
    stats.connected.store(false, Ordering::SeqCst);
    let _ = channel.close(200, "disabled".into()).await;
    let _ = conn.close(200, "disabled".into()).await;
    result
}

/// The event Amazon MQ's event source mapping sends for a batch.
pub fn rmq_event(cfg: &EsmConfig, batch: &[Delivery]) -> Value {
    let messages: Vec<Value> = batch
        .iter()
        .map(|d| rmq_message(&d.properties, d.redelivered, &d.data))
        .collect();
    json!({
        "eventSource": "aws:rmq",
        "eventSourceArn": cfg.broker_arn,
        "rmqMessagesByQueue": { format!("{}::{}", cfg.queue, cfg.virtual_host): messages },
    })
}

pub fn rmq_message(p: &BasicProperties, redelivered: bool, data: &[u8]) -> Value {
    let s = |v: &Option<lapin::types::ShortString>| v.as_ref().map(|s| s.as_str().to_owned());
    let headers = p
        .headers()
        .as_ref()
        .map(|t| {
            t.inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), amqp_value(v)))
                .collect::<Map<_, _>>()
        })
        .map(Value::Object)
        .unwrap_or(Value::Null);
    json!({
        "basicProperties": {
            "contentType": s(p.content_type()),
            "contentEncoding": s(p.content_encoding()),
            "headers": headers,
            "deliveryMode": p.delivery_mode(),
            "priority": p.priority(),
            "correlationId": s(p.correlation_id()),
            "replyTo": s(p.reply_to()),
            "expiration": s(p.expiration()),
            "messageId": s(p.message_id()),
            "timestamp": p.timestamp().map(|t| crate::time::rmq_timestamp(t as i64)),
            "type": s(p.kind()),
            "userId": s(p.user_id()),
            "appId": s(p.app_id()),
            "clusterId": s(p.cluster_id()),
            "bodySize": data.len(),
        },
        "redelivered": redelivered,
        "data": B64.encode(data),
    })
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
    use aws_lambda_events::event::rabbitmq::RabbitMqEvent;
    use lapin::types::{LongString, ShortString};
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
        let ours = rmq_message(&props, false, data);
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

        let cfg = EsmConfig::new("billing-consumer", "amqp://x", "billing_queue");
        let event = json!({
            "eventSource": "aws:rmq",
            "eventSourceArn": cfg.broker_arn,
            "rmqMessagesByQueue": {"billing_queue::/": [ours]},
        });
        let typed: RabbitMqEvent = serde_json::from_value(event).unwrap();
        let msgs = &typed.messages_by_queue["billing_queue::/"];
        assert_eq!(B64.decode(msgs[0].data.as_deref().unwrap()).unwrap(), data);
    }

    #[test]
    fn absent_properties_are_null_as_on_aws() {
        let m = rmq_message(
            &BasicProperties::default().with_message_id("m1".into()),
            true,
            b"{}",
        );
        assert_eq!(m["basicProperties"]["priority"], Value::Null);
        assert_eq!(m["basicProperties"]["messageId"], "m1");
        assert_eq!(m["redelivered"], true);
    }
}
