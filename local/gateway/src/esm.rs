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

use bytes::Bytes;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::lambda::LambdaService;
use crate::rmq_event;

#[derive(Debug, Clone)]
pub struct EsmConfig {
    pub function: String,
    pub amqp_url: String,
    pub queue: String,
    pub virtual_host: String,
    pub batch_size: u16,
    pub batching_window: Duration,
    /// The wait after a failed batch before the next one, doubled on each failure up to 30 s.
    pub retry_backoff: Duration,
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
            retry_backoff: Duration::from_secs(1),
            enabled: true,
            broker_arn: format!(
                "arn:aws:mq:{region}:{}:broker:local:b-{}",
                crate::lambda::ACCOUNT_ID,
                uuid::Uuid::new_v4()
            ),
        }
    }
}

impl EsmConfig {
    /// Where this mapping's messages come from, for [`rmq_event`].
    pub fn source(&self) -> rmq_event::Source<'_> {
        rmq_event::Source {
            broker_arn: &self.broker_arn,
            queue: &self.queue,
            virtual_host: &self.virtual_host,
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
    let mut source = BatchSource::connect(cfg).await?;
    stats.connected.store(true, Ordering::SeqCst);
    tracing::info!(queue = %cfg.queue, function = %cfg.function, "event source mapping consuming");
    let mut backoff = cfg.retry_backoff;
    let result = loop {
        let batch = tokio::select! {
            b = source.next_batch(None) => b,
            _ = enabled.wait_for(|on| !*on) => break Ok(()),
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => break Err(e),
        };
        let count = batch.len();
        let outcome = source
            .process(&batch, |event| async move {
                match lambda
                    .invoke(&cfg.function, Bytes::from(event.to_string()))
                    .await
                {
                    Ok(inv) if inv.function_error.is_none() => Ok(()),
                    Ok(inv) => Err(format!(
                        "function error: {}",
                        String::from_utf8_lossy(&inv.payload)
                    )),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await;
        stats.batches.fetch_add(1, Ordering::SeqCst);
        match outcome {
            Err(e) => break Err(e),
            Ok(Ok(())) => {
                stats.messages.fetch_add(count as u64, Ordering::SeqCst);
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                backoff = cfg.retry_backoff;
                tracing::debug!(count, "batch acknowledged");
            }
            Ok(Err(reason)) => {
                stats.failures.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(count, %reason, retry_in = ?backoff, "batch failed; requeued");
                *stats.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = enabled.wait_for(|on| !*on) => break Ok(()),
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    };
    stats.connected.store(false, Ordering::SeqCst);
    source.close("disabled").await;
    result
}

/// The mapping's side of the broker: one consumer with a prefetch of the batch size, batches
/// gathered as AWS gathers them, acknowledged together when the function succeeds and requeued
/// together when it fails. [`EventSourceMapping`] drives it in a loop; tests drive it one batch
/// at a time with a handler of their own.
pub struct BatchSource {
    connection: Connection,
    channel: Channel,
    consumer: lapin::Consumer,
    cfg: EsmConfig,
}

impl BatchSource {
    /// Connects and starts consuming `cfg.queue`, which must exist (the publisher declares it).
    pub async fn connect(cfg: &EsmConfig) -> Result<Self, String> {
        let connection = Connection::connect(&cfg.amqp_url, ConnectionProperties::default())
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let channel = connection
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
        let consumer = channel
            .basic_consume(
                cfg.queue.as_str().into(),
                format!(
                    "local-event-source-mapping-{}",
                    uuid::Uuid::new_v4().simple()
                )
                .as_str()
                .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("consume: {e}"))?;
        Ok(Self {
            connection,
            channel,
            consumer,
            cfg: cfg.clone(),
        })
    }

    /// The next batch: waits for a first delivery (at most `first_wait`, then an empty batch),
    /// then gathers up to the batch size within the batching window.
    pub async fn next_batch(
        &mut self,
        first_wait: Option<Duration>,
    ) -> Result<Vec<Delivery>, String> {
        let first = match first_wait {
            None => self.consumer.next().await,
            Some(wait) => match tokio::time::timeout(wait, self.consumer.next()).await {
                Ok(d) => d,
                Err(_) => return Ok(Vec::new()),
            },
        };
        let first = match first {
            Some(Ok(d)) => d,
            Some(Err(e)) => return Err(format!("delivery: {e}")),
            None => return Err("the broker cancelled the consumer".into()),
        };
        let mut batch = vec![first];
        let window = tokio::time::sleep(self.cfg.batching_window);
        tokio::pin!(window);
        while batch.len() < usize::from(self.cfg.batch_size) {
            tokio::select! {
                d = self.consumer.next() => match d {
                    Some(Ok(d)) => batch.push(d),
                    _ => break,
                },
                _ = &mut window => break,
            }
        }
        Ok(batch)
    }

    /// The `aws:rmq` event of `batch`.
    pub fn event(&self, batch: &[Delivery]) -> Value {
        rmq_event::event(&self.cfg.source(), batch)
    }

    /// Invokes `handler` with the batch's event, then acknowledges the batch when it answers
    /// `Ok` and requeues it when it answers `Err`. The outer `Err` is the broker's failure.
    pub async fn process<T, E, F, Fut>(
        &self,
        batch: &[Delivery],
        handler: F,
    ) -> Result<Result<T, E>, String>
    where
        F: FnOnce(Value) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let Some(last) = batch.last().map(|d| d.delivery_tag) else {
            return Err("an empty batch".into());
        };
        let outcome = handler(self.event(batch)).await;
        if outcome.is_ok() {
            self.channel
                .basic_ack(last, BasicAckOptions { multiple: true })
                .await
                .map_err(|e| format!("ack: {e}"))?;
        } else {
            let requeue = BasicNackOptions {
                multiple: true,
                requeue: true,
            };
            self.channel
                .basic_nack(last, requeue)
                .await
                .map_err(|e| format!("nack: {e}"))?;
        }
        Ok(outcome)
    }

    /// Closes the channel and connection; the broker requeues what was not acknowledged.
    pub async fn close(self, reason: &str) {
        let _ = self.channel.close(200, reason.into()).await;
        let _ = self.connection.close(200, reason.into()).await;
    }
}
