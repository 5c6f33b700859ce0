//! The event source mapping against the real RabbitMQ (scripts/services.sh; `AMQP_URL`, with
//! its default when unset) and the test-only runtime, which records every event it gets.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
mod support;

use lapin::BasicProperties;
use local_gateway::esm::{EsmConfig, EventSourceMapping};
use local_gateway::{FunctionConfig, LambdaService};
use serde_json::Value;
use support::{TestQueue, amqp_url};

struct Fixture {
    queue: String,
    record: PathBuf,
    flag: PathBuf,
    broker: TestQueue,
    lambda: LambdaService,
}

impl Fixture {
    async fn new() -> Self {
        let broker = TestQueue::new("esm_test").await;
        let queue = broker.name.clone();
        let dir = std::env::temp_dir().join(&queue);
        std::fs::create_dir_all(&dir).unwrap();
        let record = dir.join("events.jsonl");
        let flag = dir.join("fail-once");
        let mut f = FunctionConfig::new(
            "consumer",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/echo-bootstrap.py"
            ),
        );
        f.forward_logs = std::env::var_os("TEST_LOG").is_some();
        f.max_concurrency = 1;
        f.env
            .insert("ECHO_RECORD".into(), record.display().to_string());
        f.env
            .insert("ECHO_FAIL_ONCE_FLAG".into(), flag.display().to_string());
        Self {
            queue,
            record,
            flag,
            broker,
            lambda: LambdaService::new([f]),
        }
    }

    fn config(&self, batch_size: u16, enabled: bool) -> EsmConfig {
        let mut cfg = EsmConfig::new("consumer", &amqp_url(), &self.queue);
        cfg.batch_size = batch_size;
        // Long enough that a loaded machine cannot split a batch the broker delivers at once.
        cfg.batching_window = Duration::from_secs(1);
        cfg.enabled = enabled;
        cfg
    }

    async fn publish(&self, body: &str, message_id: &str) {
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(message_id.into());
        self.broker.publish(body.as_bytes(), properties).await;
    }

    /// The batches the function received: each a list of (messageId, redelivered, data).
    fn batches(&self) -> Vec<Vec<(String, bool, String)>> {
        let Ok(text) = std::fs::read_to_string(&self.record) else {
            return vec![];
        };
        text.lines()
            .map(|l| {
                let event: Value = serde_json::from_str(l).unwrap();
                assert_eq!(event["eventSource"], "aws:rmq");
                assert!(
                    event["eventSourceArn"]
                        .as_str()
                        .unwrap()
                        .starts_with("arn:aws:mq:")
                );
                let key = format!("{}::/", self.queue);
                event["rmqMessagesByQueue"][&key]
                    .as_array()
                    .unwrap_or_else(|| panic!("no {key} in {event}"))
                    .iter()
                    .map(|m| {
                        let data = B64.decode(m["data"].as_str().unwrap()).unwrap();
                        (
                            m["basicProperties"]["messageId"]
                                .as_str()
                                .unwrap()
                                .to_owned(),
                            m["redelivered"].as_bool().unwrap(),
                            String::from_utf8(data).unwrap(),
                        )
                    })
                    .collect()
            })
            .collect()
    }

    async fn wait_for(
        &self,
        what: &str,
        mut done: impl FnMut(&[Vec<(String, bool, String)>]) -> bool,
    ) {
        poll(what, || self.batches(), |b| done(b)).await;
    }

    async fn cleanup(self, esm: EventSourceMapping) {
        esm.stop();
        self.lambda.shutdown().await;
        self.broker.delete().await;
        if let Some(dir) = self.record.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Polls the mapping's configuration (as GetEventSourceMapping answers it) until `done` holds.
async fn wait_configuration(esm: &EventSourceMapping, done: impl FnMut(&Value) -> bool) {
    poll("the mapping's configuration", || esm.configuration(), done).await;
}

/// Reads `read()` every 50 ms, up to 10 s, until `done` holds; the panic shows the last reading.
async fn poll<T: std::fmt::Debug>(
    what: &str,
    read: impl Fn() -> T,
    mut done: impl FnMut(&T) -> bool,
) {
    let mut last = read();
    for _ in 0..200 {
        if done(&last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = read();
    }
    panic!("timed out waiting for {what}; got {last:?}");
}

fn ids(batches: &[Vec<(String, bool, String)>]) -> Vec<Vec<&str>> {
    batches
        .iter()
        .map(|b| b.iter().map(|(id, _, _)| id.as_str()).collect())
        .collect()
}

#[tokio::test]
async fn waiting_messages_arrive_in_batches_of_the_configured_size() {
    let fx = Fixture::new().await;
    for i in 0..5 {
        fx.publish(&format!(r#"{{"n":{i}}}"#), &format!("m{i}"))
            .await;
    }
    let esm = EventSourceMapping::start(fx.config(3, true), fx.lambda.clone());
    fx.wait_for("five messages", |b| {
        b.iter().map(Vec::len).sum::<usize>() == 5
    })
    .await;
    let batches = fx.batches();
    assert_eq!(
        ids(&batches),
        vec![vec!["m0", "m1", "m2"], vec!["m3", "m4"]]
    );
    assert_eq!(batches[0][0].2, r#"{"n":0}"#);
    assert!(
        batches
            .iter()
            .flatten()
            .all(|(_, redelivered, _)| !redelivered)
    );
    // Acknowledged: nothing comes back.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fx.batches().len(), 2);
    fx.cleanup(esm).await;
}

#[tokio::test]
async fn a_failed_batch_is_requeued_and_redelivered() {
    let fx = Fixture::new().await;
    std::fs::write(&fx.flag, "").unwrap();
    let esm = EventSourceMapping::start(fx.config(10, true), fx.lambda.clone());
    fx.publish(r#"{"order":1}"#, "o1").await;
    fx.wait_for("the retry", |b| b.len() == 2).await;
    let batches = fx.batches();
    assert_eq!(ids(&batches), vec![vec!["o1"], vec!["o1"]]);
    assert!(!batches[0][0].1, "first delivery");
    assert!(batches[1][0].1, "the retry is marked redelivered");
    // The function records the batch before it answers; the mapping counts it after the ack.
    poll(
        "the acknowledged message",
        || esm.stats(),
        |s| s.messages == 1,
    )
    .await;
    assert_eq!(esm.stats().failed_batches, 1);
    assert_eq!(esm.configuration()["LastProcessingResult"], "OK");
    fx.cleanup(esm).await;
}

#[tokio::test]
async fn a_disabled_mapping_leaves_messages_in_the_queue_until_enabled() {
    let fx = Fixture::new().await;
    let esm = EventSourceMapping::start(fx.config(10, true), fx.lambda.clone());
    fx.publish("{}", "before").await;
    fx.wait_for("the first message", |b| b.len() == 1).await;

    esm.set_enabled(false);
    wait_configuration(&esm, |c| c["State"] == "Disabled").await;
    fx.publish("{}", "while-paused").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(fx.batches().len(), 1, "nothing is delivered while disabled");

    esm.set_enabled(true);
    fx.wait_for("the waiting message", |b| b.len() == 2).await;
    assert_eq!(ids(&fx.batches())[1], vec!["while-paused"]);
    fx.cleanup(esm).await;
}

#[tokio::test]
async fn a_missing_queue_is_waited_for() {
    let fx = Fixture::new().await;
    let mut cfg = fx.config(10, true);
    cfg.queue = format!("{}_later", fx.queue);
    let esm = EventSourceMapping::start(cfg, fx.lambda.clone());
    wait_configuration(&esm, |c| {
        c["LastProcessingResult"] != "No records processed"
    })
    .await;
    assert!(!esm.stats().connected);
    let result = esm.configuration()["LastProcessingResult"].clone();
    let result = result.as_str().unwrap();
    assert!(
        result.starts_with("PROBLEM: ") && result.contains("not there yet"),
        "{result}"
    );
    assert_eq!(esm.configuration()["State"], "Enabled");
    fx.cleanup(esm).await;
}
