//! The Amazon MQ (RabbitMQ) event source mapping: consumes a queue, gathers batches (batch
//! size and batching window as on AWS, defaults 100 and 500 ms), invokes the function with the
//! `aws:rmq` event, acknowledges the batch when the function succeeds and requeues it when it
//! fails, backing off so a failing dependency does not make it spin.
//!
//! `UpdateEventSourceMapping` ([`EventSourceMapping::update`], behind the gateway's Lambda API)
//! changes it while it runs. Disabling it closes its channel: the broker requeues anything not
//! yet acknowledged and keeps new messages in the queue. A new batch size or batching window
//! takes a new channel, as the prefetch is the batch size.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
use uuid::Uuid;

use crate::lambda::LambdaService;
use crate::rmq_event;

/// The longest batching window Lambda accepts (`MaximumBatchingWindowInSeconds`, 0 to 300).
pub const MAX_BATCHING_WINDOW: Duration = Duration::from_secs(300);

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
    /// The mapping's id in the Lambda API: [`mapping_uuid`] of its function and queue, so
    /// scripts may keep it across restarts of the gateway.
    pub uuid: Uuid,
}

impl EsmConfig {
    pub fn new(function: &str, amqp_url: &str, queue: &str) -> Self {
        let region = crate::lambda::region();
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
            uuid: mapping_uuid(function, queue),
        }
    }
}

/// One mapping, one id, whenever the gateway starts: the product's derived UUID
/// ([`billing::message::derived_uuid`]) of the function and queue.
pub fn mapping_uuid(function: &str, queue: &str) -> Uuid {
    billing::message::derived_uuid(
        b"crud-master/local-gateway/event-source-mapping/v1",
        &[function.as_bytes(), queue.as_bytes()],
    )
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

/// What `UpdateEventSourceMapping` may change while the mapping runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub enabled: bool,
    pub batch_size: u16,
    pub batching_window: Duration,
}

/// The fields of an update that were given; the others stay as they are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Update {
    pub enabled: Option<bool>,
    pub batch_size: Option<u16>,
    pub batching_window: Option<Duration>,
}

impl Settings {
    fn apply(&mut self, u: Update) {
        self.enabled = u.enabled.unwrap_or(self.enabled);
        self.batch_size = u.batch_size.unwrap_or(self.batch_size);
        self.batching_window = u.batching_window.unwrap_or(self.batching_window);
    }
}

#[derive(Default)]
struct Stats {
    batches: AtomicU64,
    messages: AtomicU64,
    failures: AtomicU64,
    /// A channel is open and consuming.
    connected: AtomicBool,
    /// Why the broker could not be used, until a connection succeeds again.
    broker_error: Mutex<Option<String>>,
    /// How the last batch ended: `None` before the first.
    last_batch: Mutex<Option<Result<(), String>>>,
}

/// The event as the function receives it. Strings, numbers and string-keyed maps only, so
/// serialising it cannot fail.
fn event_json(event: &billing::rmq::RabbitMqEvent) -> Vec<u8> {
    serde_json::to_vec(event).unwrap_or_default()
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The mapping's counters, for tests and tools in this process (the Lambda API has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsmStats {
    pub batches: u64,
    /// Messages of the batches the function processed (acknowledged).
    pub messages: u64,
    pub failed_batches: u64,
    pub connected: bool,
}

/// `LastProcessingResult`: "No records processed" before a first batch, "OK" after a batch the
/// function processed, "PROBLEM: <cause>" while the broker is not usable or after a batch that
/// failed (Lambda's own causes read "PROBLEM: Connection error..." and "PROBLEM: Function call
/// failed"; ours name what happened).
fn processing_result(
    broker_error: Option<&str>,
    last_batch: Option<&Result<(), String>>,
) -> String {
    match (broker_error, last_batch) {
        (Some(cause), _) => format!("PROBLEM: {cause}"),
        (None, Some(Err(cause))) => format!("PROBLEM: {cause}"),
        (None, Some(Ok(()))) => "OK".into(),
        (None, None) => "No records processed".into(),
    }
}

/// `State`: "Disabling" while a disabled mapping still holds its channel (a batch in flight
/// finishes first; nothing new is delivered).
fn state(enabled: bool, consuming: bool) -> &'static str {
    match (enabled, consuming) {
        (true, _) => "Enabled",
        (false, true) => "Disabling",
        (false, false) => "Disabled",
    }
}

fn epoch_secs(t: SystemTime) -> f64 {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    ms as f64 / 1000.0
}

/// A running mapping. Dropping it does not stop it; call [`EventSourceMapping::stop`].
pub struct EventSourceMapping {
    cfg: EsmConfig,
    settings: watch::Sender<Settings>,
    last_modified: Mutex<SystemTime>,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl EventSourceMapping {
    pub fn start(cfg: EsmConfig, lambda: LambdaService) -> Self {
        let (settings, rx) = watch::channel(Settings {
            enabled: cfg.enabled,
            batch_size: cfg.batch_size,
            batching_window: cfg.batching_window,
        });
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(run(cfg.clone(), lambda, rx, stats.clone()));
        Self {
            cfg,
            settings,
            last_modified: Mutex::new(SystemTime::now()),
            stats,
            task,
        }
    }

    pub fn uuid(&self) -> Uuid {
        self.cfg.uuid
    }

    /// The name of the function it invokes.
    pub fn function(&self) -> &str {
        &self.cfg.function
    }

    /// The broker's ARN (`EventSourceArn`).
    pub fn event_source_arn(&self) -> &str {
        &self.cfg.broker_arn
    }

    pub fn settings(&self) -> Settings {
        *self.settings.borrow()
    }

    pub fn set_enabled(&self, on: bool) {
        self.update(Update {
            enabled: Some(on),
            ..Update::default()
        });
    }

    /// Applies `u` (the caller checked its values); a running session that no longer matches
    /// ends, and the next one starts with the new settings when enabled.
    pub fn update(&self, u: Update) -> Settings {
        self.settings.send_modify(|s| s.apply(u));
        *locked(&self.last_modified) = SystemTime::now();
        let now = self.settings();
        tracing::info!(queue = %self.cfg.queue, function = %self.cfg.function, enabled = now.enabled, batch_size = now.batch_size, batching_window = ?now.batching_window, "event source mapping updated");
        now
    }

    pub fn stats(&self) -> EsmStats {
        let s = &self.stats;
        EsmStats {
            batches: s.batches.load(Ordering::SeqCst),
            messages: s.messages.load(Ordering::SeqCst),
            failed_batches: s.failures.load(Ordering::SeqCst),
            connected: s.connected.load(Ordering::SeqCst),
        }
    }

    /// Its `EventSourceMappingConfiguration`, as the Lambda API answers it
    /// (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html).
    pub fn configuration(&self) -> Value {
        let settings = self.settings();
        let result = processing_result(
            locked(&self.stats.broker_error).as_deref(),
            locked(&self.stats.last_batch).as_ref(),
        );
        let uuid = self.cfg.uuid.to_string();
        json!({
            "UUID": uuid,
            "EventSourceMappingArn": format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{uuid}",
                crate::lambda::region(),
                crate::lambda::ACCOUNT_ID
            ),
            "FunctionArn": crate::lambda::function_arn(&self.cfg.function),
            "EventSourceArn": self.cfg.broker_arn,
            "Queues": [self.cfg.queue],
            // BASIC_AUTH would be a Secrets Manager ARN; locally the credentials are in the
            // AMQP URL, which stays out of this answer.
            "SourceAccessConfigurations": [{"Type": "VIRTUAL_HOST", "URI": self.cfg.virtual_host}],
            "BatchSize": settings.batch_size,
            // An integer in the API: a sub-second window (the 500 ms default, which the API
            // cannot express either) reads 0.
            "MaximumBatchingWindowInSeconds": settings.batching_window.as_secs(),
            "State": state(settings.enabled, self.stats.connected.load(Ordering::SeqCst)),
            // The gateway config and UpdateEventSourceMapping are the only ways it changes.
            "StateTransitionReason": "USER_INITIATED",
            "LastModified": epoch_secs(*locked(&self.last_modified)),
            "LastProcessingResult": result,
        })
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

async fn run(
    cfg: EsmConfig,
    lambda: LambdaService,
    mut settings: watch::Receiver<Settings>,
    stats: Arc<Stats>,
) {
    let mut backoff = Duration::from_millis(500);
    loop {
        let current = match settings.wait_for(|s| s.enabled).await {
            Ok(s) => *s,
            Err(_) => return,
        };
        let mut session_cfg = cfg.clone();
        session_cfg.batch_size = current.batch_size;
        session_cfg.batching_window = current.batching_window;
        match session(&session_cfg, current, &lambda, &mut settings, &stats).await {
            Ok(()) => backoff = Duration::from_millis(500),
            Err(e) => {
                stats.connected.store(false, Ordering::SeqCst);
                let last = locked(&stats.broker_error).replace(e.clone());
                // Say it once per distinct problem, not on every retry.
                if last.as_deref() != Some(e.as_str()) {
                    tracing::warn!(queue = %cfg.queue, error = %e, "event source mapping: broker not usable; retrying");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// One connection's life with the settings `current`: returns Ok when they changed (disabled,
/// or a new batch size or window), Err when the broker failed.
async fn session(
    cfg: &EsmConfig,
    current: Settings,
    lambda: &LambdaService,
    settings: &mut watch::Receiver<Settings>,
    stats: &Stats,
) -> Result<(), String> {
    let mut source = BatchSource::connect(cfg).await?;
    *locked(&stats.broker_error) = None;
    stats.connected.store(true, Ordering::SeqCst);
    tracing::info!(queue = %cfg.queue, function = %cfg.function, "event source mapping consuming");
    let mut backoff = cfg.retry_backoff;
    let result = loop {
        // Biased: once disabled, no new batch starts, even from deliveries already prefetched.
        let batch = tokio::select! {
            biased;
            _ = settings.wait_for(|s| *s != current) => break Ok(()),
            b = source.next_batch(None) => b,
        };
        let batch = match batch {
            Ok(b) => b,
            Err(e) => break Err(e),
        };
        let count = batch.len();
        let outcome = source
            .process(&batch, |event| async move {
                match lambda
                    .invoke(&cfg.function, Bytes::from(event_json(&event)))
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
                *locked(&stats.last_batch) = Some(Ok(()));
                backoff = cfg.retry_backoff;
                tracing::debug!(count, "batch acknowledged");
            }
            Ok(Err(reason)) => {
                stats.failures.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(count, %reason, retry_in = ?backoff, "batch failed; requeued");
                *locked(&stats.last_batch) = Some(Err(reason));
                tokio::select! {
                    biased;
                    _ = settings.wait_for(|s| *s != current) => break Ok(()),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    };
    source.close("settings changed").await;
    stats.connected.store(false, Ordering::SeqCst);
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
    pub fn event(&self, batch: &[Delivery]) -> billing::rmq::RabbitMqEvent {
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
        F: FnOnce(billing::rmq::RabbitMqEvent) -> Fut,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_processing_result_reads_as_lambdas() {
        assert_eq!(processing_result(None, None), "No records processed");
        assert_eq!(processing_result(None, Some(&Ok(()))), "OK");
        assert_eq!(
            processing_result(None, Some(&Err("function error: boom".into()))),
            "PROBLEM: function error: boom"
        );
        // The broker's problem wins: the last batch was before it.
        assert_eq!(
            processing_result(Some("connect: refused"), Some(&Ok(()))),
            "PROBLEM: connect: refused"
        );
        assert_eq!(
            processing_result(Some("connect: refused"), None),
            "PROBLEM: connect: refused"
        );
    }

    #[test]
    fn a_disabled_mapping_is_disabling_while_it_holds_its_channel() {
        assert_eq!(state(true, true), "Enabled");
        assert_eq!(state(true, false), "Enabled", "connecting, or retrying");
        assert_eq!(state(false, true), "Disabling");
        assert_eq!(state(false, false), "Disabled");
    }

    #[test]
    fn the_uuid_is_one_per_function_and_queue() {
        let a = mapping_uuid("billing-consumer", "billing_queue");
        assert_eq!(a, mapping_uuid("billing-consumer", "billing_queue"));
        assert_eq!(a.get_version_num(), 8);
        assert_ne!(a, mapping_uuid("billing-consumer", "other_queue"));
        // Length-prefixed: the boundary between the two parts counts.
        assert_ne!(mapping_uuid("ab", "c"), mapping_uuid("a", "bc"));
        assert_eq!(
            EsmConfig::new("billing-consumer", "amqp://x", "billing_queue").uuid,
            a
        );
    }

    #[test]
    fn an_update_changes_only_what_it_names() {
        let mut s = Settings {
            enabled: true,
            batch_size: 100,
            batching_window: Duration::from_millis(500),
        };
        s.apply(Update {
            enabled: Some(false),
            ..Update::default()
        });
        assert_eq!((s.enabled, s.batch_size), (false, 100));
        s.apply(Update {
            batch_size: Some(7),
            batching_window: Some(Duration::from_secs(2)),
            ..Update::default()
        });
        assert_eq!(
            s,
            Settings {
                enabled: false,
                batch_size: 7,
                batching_window: Duration::from_secs(2)
            }
        );
    }

    #[test]
    fn last_modified_is_epoch_seconds_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_569_284_520_333);
        assert_eq!(epoch_secs(t), 1_569_284_520.333);
    }
}
