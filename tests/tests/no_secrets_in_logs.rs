//! No secret or token ever reaches a log line. This binary installs the production JSON
//! subscriber at `RUST_LOG=trace` (every library's most verbose level: the AWS SDK, lapin,
//! reqwest, tokio-postgres) writing to a buffer, drives the paths that handle credentials
//! (database password, broker password inside the AMQP URL, bearer token, secrets read from
//! Secrets Manager, a malformed secret, setup's role passwords and broker users, failures of
//! each), and searches everything logged. It also checks that lines carry the invocation's
//! request and X-Ray trace ids.

use settings::ExposeSecret;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use database::Db;
use database::migrate::Database;
use integration_tests::{TestDb, USER, call};
use telemetry::metrics::Metrics;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_and_tokens_never_appear_in_logs() {
    // The global subscriber is installed once: this binary holds this one test only.
    let buffer = Buffer::default();
    let sink = buffer.clone();
    telemetry::init_with_writer_and_filter(move || sink.clone(), Some("trace"));
    assert!(tracing::enabled!(tracing::Level::TRACE), "logging at trace");

    let db_password = integration_tests::pg_password();
    let broker_password = "broker-secret-Zq81";
    let token = "eyJhbGciOiJSUzI1NiJ9.secret-token-payload.signature";

    // Database: a working request, then a wrong password and an unreachable server.
    let test_db = TestDb::new(Database::Movies).await;
    let app = integration_tests::inventory_app(test_db.db.clone());
    let request = http::Request::get("/api/movies")
        .header("authorization", format!("Bearer {token}"))
        .extension(integration_tests::request_context("user", "[user]"))
        .body(axum::body::Body::empty())
        .unwrap();
    let listed = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "the logged request went through");
    // Inside the span lambda_runtime opens per invocation, every line carries its ids.
    {
        use tracing::Instrument;
        let span = tracing::info_span!(
            "Lambda runtime invoke",
            requestId = "req-7f3a",
            xrayTraceId = "Root=1-6740-abc"
        );
        let r = call(
            &app,
            "POST",
            "/api/movies",
            Some(r#"{"title":"traced"}"#),
            USER,
        )
        .instrument(span)
        .await;
        assert_eq!(r.status, 200);
    }
    let mut wrong = test_db.settings.clone();
    wrong.credentials.password = settings::SecretString::from("wrong-password-Kx27");
    wrong.connect_timeout = Duration::from_millis(500);
    let bad_app = integration_tests::inventory_app(Db::new(&wrong).unwrap());
    assert_eq!(
        call(&bad_app, "GET", "/api/movies", None, USER)
            .await
            .status,
        500
    );
    let mut away = test_db.settings.clone();
    away.port = 1;
    let away_app = integration_tests::inventory_app(Db::new(&away).unwrap());
    assert_eq!(
        call(&away_app, "GET", "/api/movies", None, USER)
            .await
            .status,
        503
    );
    tracing::info!(settings = ?test_db.settings, "settings as a careless log line would print them");

    // Broker: a publish to a closed port with a password in the URL.
    let orders = TestDb::new(Database::Orders).await;
    let mut amqp = broker::amqp::AmqpSettings::local(
        &format!("amqp://guest:{broker_password}@127.0.0.1:1/%2f"),
        "billing_queue",
    );
    amqp.publish_timeout = Duration::from_secs(1);
    tracing::info!(amqp = ?amqp, "amqp settings as a careless log line would print them");
    let billing = billing_api::router(billing_api::AppState {
        publisher: broker::amqp::Publisher::new(amqp),
        db: orders.db.clone(),
        metrics: Metrics::capturing("billing-api").0,
    });
    let r = call(
        &billing,
        "POST",
        "/api/billing",
        Some(r#"{"user_id":1,"number_of_items":1,"total_amount":"1.00"}"#),
        USER,
    )
    .await;
    assert_eq!(r.status, 503);

    // Secrets Manager (moto): a good secret, and a malformed one whose error is logged the way a
    // failed cold start is.
    let sm_password = "sm-secret-Jw55";
    let good = integration_tests::create_secret(&format!(
        r#"{{"username":"app","password":"{sm_password}"}}"#
    ))
    .await;
    let malformed =
        integration_tests::create_secret(r#"{"username":"app","password": Malformed-Pw-Vq63}"#)
            .await;
    let not_object = integration_tests::create_secret(r#""Quoted-Pw-Hx19""#).await;
    let secrets = secrets::SecretSource::new(&settings::ProcessEnv);
    let creds = secrets
        .credentials(&[("ARN", good.as_str())], "ARN", "U", "P")
        .await
        .unwrap();
    assert_eq!(creds.password.expose_secret(), sm_password);
    for arn in [&malformed, &not_object] {
        let err = secrets
            .credentials(&[("ARN", arn.as_str())], "ARN", "U", "P")
            .await
            .unwrap_err();
        tracing::error!(error = %err, debug = ?err, "cold start failed");
    }

    // Setup: role passwords and broker users (the local stack's own, so this changes nothing).
    let setup_env: std::collections::HashMap<String, String> = [
        ("DATABASE_HOST", integration_tests::pg_host()),
        ("DATABASE_PORT", integration_tests::pg_port().to_string()),
        ("DATABASE_MASTER_USER", integration_tests::pg_user()),
        ("DATABASE_MASTER_PASSWORD", db_password.clone()),
        ("MOVIES_DB_USER", "movies_app".into()),
        ("MOVIES_DB_PASSWORD", "movies-local-password".into()),
        ("ORDERS_DB_USER", "orders_app".into()),
        ("ORDERS_DB_PASSWORD", "orders-local-password".into()),
        ("ORDERS_READER_USER", "orders_reader".into()),
        (
            "ORDERS_READER_PASSWORD",
            "orders-reader-local-password".into(),
        ),
        ("AMQP_URL", integration_tests::amqp_url()),
        (
            "RABBITMQ_MANAGEMENT_URL",
            integration_tests::rabbit_management_url(),
        ),
        ("AMQP_USER", integration_tests::amqp_admin().0),
        ("AMQP_PASSWORD", integration_tests::amqp_admin().1),
        ("BROKER_PUBLISHER_USER", "billing_publisher".into()),
        (
            "BROKER_PUBLISHER_PASSWORD",
            "publisher-local-password".into(),
        ),
        ("BROKER_CONSUMER_USER", "billing_consumer".into()),
        ("BROKER_CONSUMER_PASSWORD", "consumer-local-password".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let cfg = setup::SetupConfig::from_env(&setup_env, &secrets)
        .await
        .unwrap();
    tracing::info!(config = ?cfg, "setup config as a careless log line would print it");
    let report = setup::run(&cfg).await.unwrap();
    assert_eq!(report.broker_users.len(), 2);

    let logged = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.lines().count() >= 3,
        "the paths above did log: {logged}"
    );
    assert!(
        logged.contains("logging at TRACE"),
        "the capture ran at TRACE (the libraries that carry credentials log at INFO at most)"
    );
    let created = logged
        .lines()
        .find(|l| l.contains("movie created"))
        .unwrap_or_else(|| panic!("no 'movie created' line in:\n{logged}"));
    assert!(
        created.contains("req-7f3a") && created.contains("Root=1-6740-abc"),
        "{created}"
    );
    for secret in [
        db_password.as_str(),
        "wrong-password-Kx27",
        broker_password,
        token,
        "secret-token-payload",
        sm_password,
        "Malformed-Pw-Vq63",
        "Quoted-Pw-Hx19",
        "movies-local-password",
        "orders-local-password",
        "publisher-local-password",
        "consumer-local-password",
    ] {
        assert!(
            !logged.contains(secret),
            "{secret:?} leaked into the logs:\n{logged}"
        );
    }
}
