//! What the billing tests share: a harness wiring billing-api and billing-consumer to a fresh
//! database, a queue of their own and an SQS dead-letter queue in moto, and the gateway's event
//! source mapping feeding RabbitMQ deliveries to the consumer in-process, one batch at a time.
#![allow(dead_code)]

use std::time::Duration;

use billing_api::AppState;
use billing_consumer::{Consumer, ConsumerError, RabbitMqEvent, Report};
use broker::{AmqpSettings, Publisher};
use database::migrate::Database;
use database::{Db, DbSettings};
use integration_tests::{Reply, TestDb, USER, amqp_url, call, unique};
use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use local_gateway::esm::{BatchSource, EsmConfig};
use serde_json::json;
use telemetry::metrics::Metrics;

/// The admin scope and the machine client's id, as Terraform sets them for the functions.
pub const ADMIN_SCOPE: &str = "crud-master/movies.admin";
pub const MACHINE_CLIENT: &str = "machine-client";

pub async fn sqs() -> aws_sdk_sqs::Client {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_sqs::Client::new(&config)
}

/// A fresh SQS queue in moto; returns its URL.
pub async fn create_dlq(sqs: &aws_sdk_sqs::Client) -> String {
    let out = sqs
        .create_queue()
        .queue_name(unique("billing_dlq"))
        .send()
        .await
        .expect("create the DLQ in moto");
    out.queue_url().expect("queue url").to_owned()
}

/// Every message in the DLQ: (body, reason, original_message_id).
pub async fn read_dlq(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let got = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive from the DLQ");
        let messages = got.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let attr = |k: &str| {
                m.message_attributes()
                    .and_then(|a| a.get(k))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push((
                m.body().unwrap_or_default().to_owned(),
                attr("reason"),
                attr("original_message_id"),
            ));
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete from the DLQ");
        }
    }
    out
}

pub async fn amqp_connect(url: &str) -> Connection {
    tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(url, ConnectionProperties::default()),
    )
    .await
    .expect("connect to RabbitMQ in time")
    .expect("connect to RabbitMQ")
}

/// Messages ready in `queue` (not counting deliveries still unacknowledged).
pub async fn ready(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("passive declare")
        .message_count()
}

pub async fn count_orders(db: &TestDb) -> i64 {
    let client = db.client().await;
    client
        .query_one(
            "SELECT count(*), count(DISTINCT message_id) FROM orders",
            &[],
        )
        .await
        .map(|r| {
            let (all, distinct): (i64, i64) = (r.get(0), r.get(1));
            assert_eq!(all, distinct, "a message_id stored twice");
            all
        })
        .expect("count orders")
}

/// billing-api and billing-consumer on their own database, queue and DLQ.
pub struct Harness {
    pub db: TestDb,
    pub queue: String,
    pub publisher: Publisher,
    pub router: axum::Router,
    pub consumer: Consumer,
    pub sqs: aws_sdk_sqs::Client,
    pub dlq_url: String,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(&amqp_url(), None).await
    }

    /// `amqp` is the broker URL billing-api publishes to; `db_port` overrides the database port
    /// both functions use (a [`integration_tests::Cuttable`] in front of PostgreSQL).
    pub async fn with(amqp: &str, db_port: Option<u16>) -> Self {
        Self::build(amqp, db_port, Duration::from_secs(5)).await
    }

    /// A publish budget of 30 s, for tests that count connections: under a slow disk a confirm
    /// past half the 5 s budget makes the publisher reconnect, which is right but changes the count.
    pub async fn patient() -> Self {
        Self::build(&amqp_url(), None, Duration::from_secs(30)).await
    }

    async fn build(amqp: &str, db_port: Option<u16>, publish_timeout: Duration) -> Self {
        let db = TestDb::new(Database::Orders).await;
        let queue = unique("billing_queue");
        let mut settings = AmqpSettings::local(amqp, &queue);
        settings.publish_timeout = publish_timeout;
        let publisher = Publisher::new(settings);
        let app_db = match db_port {
            None => db.db.clone(),
            Some(port) => {
                let mut s: DbSettings = db.settings.clone();
                s.port = port;
                s.connect_timeout = Duration::from_secs(1);
                s.query_timeout = Duration::from_secs(3);
                Db::new(&s).expect("pool")
            }
        };
        // The machine client's scopes count as Terraform configures them.
        let router = http_edge::auth::AccessPolicy::with_scope(ADMIN_SCOPE, MACHINE_CLIENT)
            .expect("policy")
            .attach(billing_api::router(AppState {
                publisher: publisher.clone(),
                db: app_db.clone(),
                metrics: Metrics::capturing("billing-api").0,
            }));
        let sqs = sqs().await;
        let dlq_url = create_dlq(&sqs).await;
        let consumer = Consumer {
            db: app_db,
            sqs: sqs.clone(),
            dlq_url: dlq_url.clone(),
            metrics: Metrics::capturing("billing-consumer").0,
        };
        // The queue exists before anything publishes, as the deploy-time setup makes sure.
        let conn = amqp_connect(&amqp_url()).await;
        broker::topology::declare(&conn, &queue)
            .await
            .expect("declare topology");
        let _ = conn.close(200, "done".into()).await;
        Self {
            db,
            queue,
            publisher,
            router,
            consumer,
            sqs,
            dlq_url,
        }
    }

    pub async fn post(&self, body: &str) -> Reply {
        call(&self.router, "POST", "/api/billing", Some(body), USER).await
    }

    pub async fn get(&self, message_id: &str) -> Reply {
        call(
            &self.router,
            "GET",
            &format!("/api/billing/orders/{message_id}"),
            None,
            USER,
        )
        .await
    }

    /// Deletes the test's queues (best effort).
    pub async fn cleanup(&self) {
        delete_queue(&self.queue).await;
    }
}

/// Deletes `queue`, its dead-letter queue and exchange (best effort).
pub async fn delete_queue(queue: &str) {
    let Ok(Ok(conn)) = tokio::time::timeout(
        Duration::from_secs(5),
        Connection::connect(&amqp_url(), ConnectionProperties::default()),
    )
    .await
    else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for q in [queue.to_owned(), broker::topology::dead_letter_queue(queue)] {
            let _ = channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = channel
            .exchange_delete(
                broker::topology::dead_letter_exchange(queue)
                    .as_str()
                    .into(),
                Default::default(),
            )
            .await;
    }
    let _ = conn.close(200, "done".into()).await;
}

/// The Amazon MQ mapping's message for one delivery ([`local_gateway::rmq_event`]).
pub fn rmq_message(delivery: &lapin::message::Delivery) -> billing::rmq::RabbitMqMessage {
    local_gateway::rmq_event::message(delivery)
}

/// The event the mapping sends to the consumer for `messages` (typed, or JSON made by hand)
/// from `queue`.
pub fn rmq_event<E: Into<billing::rmq::Entry>>(
    queue: &str,
    messages: impl IntoIterator<Item = E>,
) -> RabbitMqEvent {
    let source = local_gateway::rmq_event::Source {
        broker_arn: "arn:aws:mq:us-east-1:123456789012:broker:local:b-local",
        queue,
        virtual_host: "/",
    };
    local_gateway::rmq_event::event_of(&source, messages)
}

/// The gateway's event source mapping ([`BatchSource`]) driven one batch at a time, with
/// billing-consumer's handler called in-process: batches of up to `batch` deliveries, acked
/// together on success and requeued together on failure.
pub struct Mapping {
    source: BatchSource,
}

impl Mapping {
    pub async fn start(url: &str, queue: &str, batch: u16) -> Self {
        let mut cfg = EsmConfig::new("billing-consumer", url, queue);
        cfg.batch_size = batch;
        // Long enough that a loaded machine cannot split what the broker delivers at once; a
        // full batch returns without waiting for it.
        cfg.batching_window = Duration::from_secs(1);
        let source = tokio::time::timeout(Duration::from_secs(10), BatchSource::connect(&cfg))
            .await
            .expect("connect to RabbitMQ in time")
            .expect("consume the queue");
        Self { source }
    }

    /// Up to `batch` deliveries: waits `first` for the first one, then the batching window.
    pub async fn next_batch(&mut self, first: Duration) -> Vec<lapin::message::Delivery> {
        self.source
            .next_batch(Some(first))
            .await
            .expect("consumer error")
    }

    /// One invocation, as the mapping does it. `None` when no message came within `first`.
    pub async fn invoke(
        &mut self,
        consumer: &Consumer,
        first: Duration,
    ) -> Option<Result<Report, ConsumerError>> {
        let deliveries = self.next_batch(first).await;
        if deliveries.is_empty() {
            return None;
        }
        let handler = |event: RabbitMqEvent| billing_consumer::handle(event, consumer);
        Some(
            self.source
                .process(&deliveries, handler)
                .await
                .expect("ack or nack"),
        )
    }

    /// Invokes until `stored` orders have been stored in total (panics after `timeout`), retrying
    /// failed batches like the real mapping. Returns the reports.
    pub async fn run_until_stored(
        &mut self,
        consumer: &Consumer,
        stored: usize,
        timeout: Duration,
    ) -> Vec<Report> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut reports = Vec::new();
        let mut total = 0;
        while total < stored {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {total} of {stored} orders stored after {timeout:?}"
            );
            match self.invoke(consumer, Duration::from_millis(500)).await {
                Some(Ok(report)) => {
                    total += report.stored.len();
                    reports.push(report);
                }
                Some(Err(_)) => {
                    // A failed invocation: the batch goes back to the queue; the loop above
                    // fails unless its redelivery is stored.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                None => {}
            }
        }
        reports
    }

    pub async fn close(self) {
        self.source.close("done").await;
    }
}

/// `n` valid order bodies.
pub fn order_body(i: usize) -> String {
    json!({
        "user_id": (i % 1000) + 1,
        "number_of_items": (i % 7) + 1,
        "total_amount": format!("{}.{:02}", (i % 500) + 1, i % 100),
    })
    .to_string()
}
