//! The broker users setup creates through the RabbitMQ management API, against the real local
//! RabbitMQ: the publish-only user (billing-api) cannot consume or declare, the consume-only
//! user (the event source mapping) cannot publish, a rotated password takes effect when setup
//! runs again, billing still flows end to end with only these two users, and the work queue's
//! dead-letter exchange is a policy, so a plain declare of the queue is equivalent to setup's.

mod billing_support;

use std::time::Duration;

use billing_api::AppState;
use billing_consumer::Consumer;
use billing_support::{Mapping, amqp_connect, count_orders, create_dlq, delete_queue, sqs};
use broker::{AmqpSettings, Publisher};
use database::migrate::Database;
use integration_tests::BrokerUsers;
use integration_tests::{TestDb, USER, call, eventually, unique};
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, BasicRejectOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use settings::SecretString;
use telemetry::metrics::Metrics;

fn refused(result: Result<impl std::fmt::Debug, lapin::Error>, what: &str) {
    let err = result.expect_err(what).to_string();
    assert!(err.contains("ACCESS_REFUSED"), "{what}: {err}");
}

/// Neither user may declare a queue or an exchange (each on a fresh channel: a refusal closes
/// the channel).
async fn declaring_is_refused(conn: &Connection, who: &str) {
    let ch = conn.create_channel().await.unwrap();
    refused(
        ch.queue_declare(
            unique("sneaky").as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
        &format!("{who} declares a queue"),
    );
    let ch = conn.create_channel().await.unwrap();
    refused(
        ch.exchange_declare(
            unique("sneaky").as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await,
        &format!("{who} declares an exchange"),
    );
}

#[tokio::test]
async fn the_publisher_may_only_publish_and_the_consumer_only_consume() {
    let u = BrokerUsers::new("billing_queue").await;

    let publisher = amqp_connect(&u.publisher_url()).await;
    let ch = publisher.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = ch
        .basic_publish(
            "".into(),
            u.queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"{}",
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirm.is_ack(), "the publisher publishes");
    let ch = publisher.create_channel().await.unwrap();
    refused(
        ch.basic_consume(
            u.queue.as_str().into(),
            "sneaky".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await,
        "the publisher consumes",
    );
    declaring_is_refused(&publisher, "the publisher").await;

    let consumer = amqp_connect(&u.consumer_url()).await;
    let ch = consumer.create_channel().await.unwrap();
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let publish = async {
        ch.basic_publish(
            "".into(),
            u.queue.as_str().into(),
            BasicPublishOptions::default(),
            b"{}",
            BasicProperties::default(),
        )
        .await?
        .await
    };
    refused(publish.await, "the consumer publishes");
    let ch = consumer.create_channel().await.unwrap();
    refused(
        ch.basic_consume(
            broker::topology::dead_letter_queue(&u.queue)
                .as_str()
                .into(),
            "sneaky".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await,
        "the consumer reads another queue",
    );
    declaring_is_refused(&consumer, "the consumer").await;
    // It reads its queue: the message the publisher sent above.
    let mut mapping = Mapping::start(&u.consumer_url(), &u.queue, 1).await;
    let got = mapping.next_batch(Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    mapping.close().await;

    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer.close(200, "done".into()).await;
    u.cleanup().await;
    delete_queue(&u.queue).await;
}

/// Lambda does not document whether its poller declares the queue: if it does, as a plain
/// durable queue, the consumer user may and the declare is equivalent (the dead-letter
/// exchange is a policy, not an argument). A message the consumer rejects is dead-lettered by
/// that policy, and a queue declared the old way (with the argument) is taken as it is.
#[tokio::test]
async fn a_plain_declare_of_the_queue_is_equivalent_and_the_policy_dead_letters() {
    let u = BrokerUsers::new("billing_queue").await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let consumer = amqp_connect(&u.consumer_url()).await;
    let ch = consumer.create_channel().await.unwrap();
    ch.queue_declare(u.queue.as_str().into(), durable, FieldTable::default())
        .await
        .expect("the consumer declares its queue as a plain durable queue");

    let publisher = amqp_connect(&u.publisher_url()).await;
    let pch = publisher.create_channel().await.unwrap();
    pch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    pch.basic_publish(
        "".into(),
        u.queue.as_str().into(),
        BasicPublishOptions::default(),
        b"{}",
        BasicProperties::default().with_delivery_mode(2),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let got = eventually(Duration::from_secs(10), "the message to get", || async {
        ch.basic_get(u.queue.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
    })
    .await;
    got.delivery
        .reject(BasicRejectOptions { requeue: false })
        .await
        .unwrap();

    let admin = amqp_connect(&integration_tests::amqp_url()).await;
    let dead = broker::topology::dead_letter_queue(&u.queue);
    eventually(
        Duration::from_secs(10),
        "the rejected message in the dead-letter queue",
        || async {
            let ach = admin.create_channel().await.unwrap();
            let q = ach
                .queue_declare(
                    dead.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            (q.message_count() == 1).then_some(())
        },
    )
    .await;

    // A queue declared with the argument, as before the policy: setup's declare takes it.
    let legacy = unique("billing_queue_legacy");
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(
            broker::topology::dead_letter_exchange(&legacy)
                .as_str()
                .into(),
        ),
    );
    let ach = admin.create_channel().await.unwrap();
    ach.queue_declare(legacy.as_str().into(), durable, args)
        .await
        .unwrap();
    broker::topology::declare(&admin, &legacy)
        .await
        .expect("an existing queue with the argument is left as it is");

    for c in [&consumer, &publisher, &admin] {
        let _ = c.close(200, "done".into()).await;
    }
    u.cleanup().await;
    delete_queue(&u.queue).await;
    delete_queue(&legacy).await;
}

#[tokio::test]
async fn a_rotated_password_takes_effect_when_setup_runs_again() {
    let mut u = BrokerUsers::new("billing_queue").await;
    let old = u.publisher_url();
    amqp_connect(&old).await;
    u.publisher.password = SecretString::from("publisher-Pw-2");
    u.setup().await;
    let refused_login = tokio::time::timeout(
        Duration::from_secs(10),
        Connection::connect(&old, ConnectionProperties::default()),
    )
    .await
    .expect("an answer");
    refused(refused_login, "the old password no longer works");
    amqp_connect(&u.publisher_url()).await;
    u.cleanup().await;
    delete_queue(&u.queue).await;
}

#[tokio::test]
async fn billing_flows_end_to_end_with_the_least_privilege_users() {
    let u = BrokerUsers::new("billing_queue").await;
    let db = TestDb::new(Database::Orders).await;
    // billing-api as on AWS: its own user, no topology declaration.
    let mut settings = AmqpSettings::local(&u.publisher_url(), &u.queue);
    settings.declare_topology = false;
    let router = billing_api::router(AppState {
        publisher: Publisher::new(settings),
        db: db.db.clone(),
        metrics: Metrics::capturing("billing-api").0,
    });
    let sqs = sqs().await;
    let consumer = Consumer {
        db: db.db.clone(),
        sqs: sqs.clone(),
        dlq_url: create_dlq(&sqs).await,
        metrics: Metrics::capturing("billing-consumer").0,
    };
    let mut ids = Vec::new();
    for i in 1..=3 {
        let r = call(
            &router,
            "POST",
            "/api/billing",
            Some(&billing_support::order_body(i)),
            USER,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
        ids.push(r.json["message_id"].as_str().unwrap().to_owned());
    }
    // The event source mapping as the consume-only user.
    let mut mapping = Mapping::start(&u.consumer_url(), &u.queue, 10).await;
    mapping
        .run_until_stored(&consumer, 3, Duration::from_secs(20))
        .await;
    eventually(Duration::from_secs(5), "three orders stored", || async {
        (count_orders(&db).await == 3).then_some(())
    })
    .await;
    for id in ids {
        let r = call(
            &router,
            "GET",
            &format!("/api/billing/orders/{id}"),
            None,
            USER,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.json);
    }
    mapping.close().await;
    u.cleanup().await;
    delete_queue(&u.queue).await;
}

#[tokio::test]
async fn a_refused_administrator_fails_at_once_and_names_no_password() {
    let u = BrokerUsers::new("billing_queue").await;
    let mut wrong = u.management.clone();
    wrong.admin.password = SecretString::from("not-the-admin-Pw-Rt42");
    let started = std::time::Instant::now();
    let err = wrong
        .ensure_users(
            &u.queue,
            &[setup::broker::BrokerUser {
                credentials: u.publisher.clone(),
                role: setup::broker::Role::Publisher,
            }],
            &setup::retry::Backoff::new(Duration::from_secs(30)),
        )
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "not retried");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("Rt42") && !text.contains("publisher-Pw"),
        "{text}"
    );
    u.cleanup().await;
    delete_queue(&u.queue).await;
}

/// The broker is created with a bootstrap password (the one secret Terraform's state holds):
/// setup logs in with it, sets the stored password, and from then on the bootstrap password
/// opens nothing. A wrong earlier password is skipped; with none that works, setup stops and
/// names the administrator.
#[tokio::test]
async fn setup_replaces_the_bootstrap_administrator_password_with_the_stored_one() {
    settings::install_crypto_provider();
    let url = integration_tests::rabbit_management_url();
    let (root, root_password) = integration_tests::amqp_admin();
    let http = reqwest::Client::new();
    let name = unique("bootstrap_admin");
    let status_as = |password: &str| {
        let req = http
            .get(format!("{url}/api/whoami"))
            .basic_auth(&name, Some(password.to_owned()));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // As Amazon MQ creates the broker's user: the administrator tag, the bootstrap password.
    let created = http
        .put(format!("{url}/api/users/{name}"))
        .basic_auth(&root, Some(&root_password))
        .json(&serde_json::json!({"password": "bootstrap-Pw-1", "tags": "administrator"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    let creds = |password: &str| settings::Credentials {
        username: name.clone(),
        password: SecretString::from(password),
    };
    let mut management = setup::broker::Management {
        url: url.clone(),
        admin: creds("stored-Pw-1"),
        earlier_admins: vec![creds("previous-Pw-wrong"), creds("bootstrap-Pw-1")],
        vhost: "/".into(),
        timeout: Duration::from_secs(10),
    };
    let backoff = setup::retry::Backoff::new(Duration::from_secs(10));
    assert_eq!(
        management.ensure_admin_password(&backoff).await.unwrap(),
        setup::broker::AdminPassword::Replaced
    );
    assert_eq!(
        status_as("bootstrap-Pw-1").await,
        401,
        "the bootstrap password is dead"
    );
    assert_eq!(
        status_as("stored-Pw-1").await,
        200,
        "the stored password opens the API"
    );
    let tags: serde_json::Value = http
        .get(format!("{url}/api/users/{name}"))
        .basic_auth(&root, Some(&root_password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tags["tags"],
        serde_json::json!(["administrator"]),
        "tags kept"
    );
    assert_eq!(
        management.ensure_admin_password(&backoff).await.unwrap(),
        setup::broker::AdminPassword::Stored,
        "a second run changes nothing"
    );

    management.admin = creds("stored-Pw-2");
    management.earlier_admins = vec![creds("bootstrap-Pw-1")];
    let err = management
        .ensure_admin_password(&backoff)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, setup::broker::ManagementError::AdminRefused { user, tried: 2 } if *user == name),
        "{err}"
    );
    assert_eq!(
        status_as("stored-Pw-1").await,
        200,
        "nothing changed on a refusal"
    );

    let _ = http
        .delete(format!("{url}/api/users/{name}"))
        .basic_auth(&root, Some(&root_password))
        .send()
        .await;
}

/// Setup waits for a broker that is not up yet, but not for a refused login or permission:
/// the publisher's error says which by its kind, whatever its text.
#[tokio::test]
async fn a_refused_login_or_permission_is_access_refused_and_an_absent_broker_is_not() {
    let port = integration_tests::amqp_port();
    let wrong = format!("amqp://{}:wrong@127.0.0.1:{port}/%2f", unique("nobody"));
    let err = Publisher::new(AmqpSettings::local(&wrong, "billing_queue"))
        .ensure_connected()
        .await
        .unwrap_err();
    assert!(err.is_access_refused(), "{err:?}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "keeps lapin's error"
    );

    // The publish-only user may not declare: refused on the channel, the same kind.
    let u = BrokerUsers::new("billing_queue").await;
    let err = Publisher::new(AmqpSettings::local(&u.publisher_url(), &u.queue))
        .ensure_connected()
        .await
        .unwrap_err();
    assert!(err.is_access_refused(), "{err:?}");
    u.cleanup().await;
    delete_queue(&u.queue).await;

    let closed = format!(
        "amqp://u:p@127.0.0.1:{}/%2f",
        integration_tests::free_port()
    );
    let err = Publisher::new(AmqpSettings::local(&closed, "billing_queue"))
        .ensure_connected()
        .await
        .unwrap_err();
    assert!(
        matches!(err, broker::PublishError::Unreachable(_)),
        "{err:?}"
    );
    assert!(!err.is_access_refused(), "nothing listening may change");
}
