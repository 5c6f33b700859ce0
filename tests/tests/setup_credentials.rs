//! How setup handles credentials and waits, against the real PostgreSQL and RabbitMQ:
//! role passwords travel only as SCRAM-SHA-256 verifiers (checked on the wire), and setup
//! started before its servers accept connections waits for them, within a bounded budget.

use settings::ExposeSecret;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use integration_tests::{
    Forwarder, amqp_port, amqp_url, connect, connect_as, eventually, free_port, pg_host,
    pg_password, pg_port, pg_user, rabbit_management_url,
};

// The same role passwords as setup_roles.rs and `make dev`: test binaries run one after the
// other, but a role's password is cluster-wide, so every test sets the same ones.
const MOVIES_PASSWORD: &str = "movies-local-password";
const ORDERS_PASSWORD: &str = "orders-local-password";

fn env(pg_port: u16, amqp: &str, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        ("DATABASE_HOST", pg_host()),
        ("DATABASE_PORT", pg_port.to_string()),
        ("DATABASE_MASTER_USER", pg_user()),
        ("DATABASE_MASTER_PASSWORD", pg_password()),
        ("MOVIES_DB_USER", "movies_app".into()),
        ("MOVIES_DB_PASSWORD", MOVIES_PASSWORD.into()),
        ("ORDERS_DB_USER", "orders_app".into()),
        ("ORDERS_DB_PASSWORD", ORDERS_PASSWORD.into()),
        ("ORDERS_READER_USER", "orders_reader".into()),
        (
            "ORDERS_READER_PASSWORD",
            "orders-reader-local-password".into(),
        ),
        ("AMQP_URL", amqp.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    env
}

async fn config(env: &HashMap<String, String>) -> setup::SetupConfig {
    settings::install_crypto_provider();
    telemetry::init_for_tests();
    setup::SetupConfig::from_env(env, &secrets::SecretSource::new(&settings::ProcessEnv))
        .await
        .unwrap()
}

/// Both tests run setup on the same cluster-wide roles, databases and queue: one at a time, so
/// their statements cannot race ("tuple concurrently updated").
static ONE_SETUP_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn role_passwords_are_sent_only_as_scram_verifiers() {
    let _one = ONE_SETUP_AT_A_TIME.lock().await;
    // Everything setup sends to PostgreSQL goes through this recorder (plain TCP on loopback).
    let wire = Forwarder::start(0, pg_port()).await;
    let cfg = config(&env(wire.port, &amqp_url(), &[])).await;
    setup::run(&cfg).await.unwrap();

    let sent = String::from_utf8_lossy(&wire.sent()).into_owned();
    assert!(
        sent.contains("ROLE movies_app LOGIN PASSWORD 'SCRAM-SHA-256$4096:"),
        "the recorder saw setup's statements"
    );
    for password in [MOVIES_PASSWORD, ORDERS_PASSWORD, &pg_password()] {
        assert!(
            !sent.contains(password),
            "{password:?} went over the wire in cleartext"
        );
    }

    // What PostgreSQL stored, and that the password works over a real connection.
    let admin = connect("postgres").await;
    for (role, db, password) in [
        ("movies_app", "movies", MOVIES_PASSWORD),
        ("orders_app", "orders", ORDERS_PASSWORD),
    ] {
        let stored: String = admin
            .query_one(
                "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
                &[&role],
            )
            .await
            .unwrap()
            .get(0);
        assert!(
            stored.starts_with("SCRAM-SHA-256$4096:"),
            "{role}: {stored}"
        );
        let client = connect_as(db, role, password).await.unwrap();
        client.batch_execute("SELECT 1").await.unwrap();
        assert!(connect_as(db, role, "not-the-password").await.is_err());
    }
}

#[tokio::test]
async fn setup_waits_for_servers_that_come_up_late_within_its_budget() {
    let _one = ONE_SETUP_AT_A_TIME.lock().await;
    // Ports with nothing behind them yet: PostgreSQL (or RDS Proxy registering its target),
    // the broker and its management API are "not accepting connections".
    let (pg_late, amqp_late, mgmt_late) = (free_port(), free_port(), free_port());
    let amqp = amqp_url().replace(&format!(":{}/", amqp_port()), &format!(":{amqp_late}/"));
    assert_ne!(amqp, amqp_url());
    let mgmt_url = format!("http://127.0.0.1:{mgmt_late}");
    let mgmt_port: u16 = rabbit_management_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in CRUD_RABBIT_MGMT_URL");
    let (admin, admin_password) = integration_tests::amqp_admin();
    let cfg = config(&env(
        pg_late,
        &amqp,
        &[
            ("SETUP_CONNECT_BUDGET_SECS", "60"),
            ("RABBITMQ_MANAGEMENT_URL", &mgmt_url),
            ("AMQP_USER", &admin),
            ("AMQP_PASSWORD", &admin_password),
            // The local stack's own users, so this changes nothing for `make dev`.
            ("BROKER_PUBLISHER_USER", "billing_publisher"),
            ("BROKER_PUBLISHER_PASSWORD", "publisher-local-password"),
            ("BROKER_CONSUMER_USER", "billing_consumer"),
            ("BROKER_CONSUMER_PASSWORD", "consumer-local-password"),
        ],
    ))
    .await;

    let started = Instant::now();
    let run = tokio::spawn(async move { setup::run(&cfg).await });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !run.is_finished(),
        "setup is waiting for PostgreSQL, not failing"
    );
    // Each server opens only once setup has got past the previous one, so every wait is proven.
    let pg = Forwarder::start(pg_late, pg_port()).await;
    eventually(
        Duration::from_secs(15),
        "setup connects to PostgreSQL",
        || async { (!pg.sent().is_empty()).then_some(()) },
    )
    .await;
    // The broker's management API before AMQP: setup makes the stored administrator password
    // the broker's (the bootstrap one on a new broker) before it logs in over AMQP with it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !run.is_finished(),
        "setup is waiting for the management API"
    );
    let mgmt = Forwarder::start(mgmt_late, mgmt_port).await;
    eventually(
        Duration::from_secs(15),
        "setup reaches the management API",
        || async { (!mgmt.sent().is_empty()).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!run.is_finished(), "setup is waiting for the broker (AMQP)");
    let _amqp = Forwarder::start(amqp_late, amqp_port()).await;
    let report = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("setup finishes once all three accept connections")
        .unwrap()
        .unwrap();
    assert_eq!(report.declared_queue.as_deref(), Some("billing_queue"));
    assert_eq!(
        report.broker_users,
        ["billing_publisher", "billing_consumer"]
    );
    assert!(started.elapsed() >= Duration::from_secs(5));

    // Bounded: nothing ever listens here, and setup gives up after its budget.
    let never = free_port();
    let cfg = config(&env(
        never,
        &amqp_url(),
        &[("SETUP_CONNECT_BUDGET_SECS", "3")],
    ))
    .await;
    let started = Instant::now();
    let err = setup::run(&cfg).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert!(err.to_string().contains("unavailable"), "{err}");

    // A refused password is not waited for.
    let mut wrong = env(
        pg_port(),
        &amqp_url(),
        &[("SETUP_CONNECT_BUDGET_SECS", "30")],
    );
    wrong.insert("DATABASE_MASTER_PASSWORD".into(), "wrong-password".into());
    let started = Instant::now();
    assert!(setup::run(&config(&wrong).await).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(5), "failed fast");
}

/// Where setup finds the administrator's earlier passwords, from Secrets Manager (moto): the
/// stored secret's previous version after a rotation, then the bootstrap secret; a secret with
/// one version has no previous one.
#[tokio::test]
async fn setup_reads_the_previous_administrator_password_and_the_bootstrap_one() {
    settings::install_crypto_provider();
    let json = |p: &str| format!(r#"{{"username":"broker_admin","password":"{p}"}}"#);
    let admin_arn = integration_tests::create_secret(&json("first-Pw")).await;
    let bootstrap_arn = integration_tests::create_secret(&json("bootstrap-Pw")).await;
    let secrets = secrets::SecretSource::new(&settings::ProcessEnv);
    assert!(
        secrets.previous(&admin_arn).await.unwrap().is_none(),
        "one version, no previous"
    );

    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .put_secret_value()
        .secret_id(&admin_arn)
        .secret_string(json("second-Pw"))
        .send()
        .await
        .expect("a new version, as a bump of admin_password_version stores");

    let env: HashMap<String, String> = [
        ("AMQP_URL", amqp_url()),
        ("AMQP_SECRET_ARN", admin_arn.clone()),
        ("BROKER_BOOTSTRAP_SECRET_ARN", bootstrap_arn),
        ("RABBITMQ_MANAGEMENT_URL", rabbit_management_url()),
        ("BROKER_PUBLISHER_USER", "p".into()),
        ("BROKER_PUBLISHER_PASSWORD", "p".into()),
        ("BROKER_CONSUMER_USER", "c".into()),
        ("BROKER_CONSUMER_PASSWORD", "c".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let broker = setup::BrokerSetup::from_env(&env, &secrets).await.unwrap();
    let management = broker.management.expect("a management API");
    assert_eq!(management.admin.password.expose_secret(), "second-Pw");
    let earlier: Vec<_> = management
        .earlier_admins
        .iter()
        .map(|c| (c.username.as_str(), c.password.expose_secret()))
        .collect();
    assert_eq!(
        earlier,
        [
            ("broker_admin", "first-Pw"),
            ("broker_admin", "bootstrap-Pw")
        ]
    );
}
