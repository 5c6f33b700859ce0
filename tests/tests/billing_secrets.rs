//! Broker and database credentials from Secrets Manager (moto), read once at cold start, as
//! billing-api's `main` does when `AMQP_SECRET_ARN` / `DATABASE_SECRET_ARN` are set.

mod billing_support;

use std::collections::HashMap;

use billing_api::AppState;
use broker::{AmqpSettings, Publisher};
use database::migrate::Database;
use database::{Db, DbSettings};
use integration_tests::{TestDb, USER, call, pg_host, pg_password, pg_port, pg_user, unique};
use secrets::SecretSource;
use telemetry::metrics::Metrics;

async fn secret(value: serde_json::Value) -> String {
    integration_tests::create_secret(&value.to_string()).await
}

#[tokio::test]
async fn credentials_come_from_secrets_manager_when_arns_are_set() {
    let db = TestDb::new(Database::Orders).await;
    let (admin, admin_password) = integration_tests::amqp_admin();
    let amqp_arn = secret(serde_json::json!({"username": admin, "password": admin_password})).await;
    let db_arn =
        secret(serde_json::json!({"username": pg_user(), "password": pg_password()})).await;
    let queue = unique("billing_queue");
    let amqp_port = std::env::var("CRUD_AMQP_PORT").unwrap_or_else(|_| "5673".into());
    let env: HashMap<String, String> = [
        ("AMQP_ENDPOINT", format!("amqp://127.0.0.1:{amqp_port}")),
        ("AMQP_SECRET_ARN", amqp_arn),
        ("BILLING_QUEUE", queue.clone()),
        ("DATABASE_HOST", pg_host()),
        ("DATABASE_PORT", pg_port().to_string()),
        ("DATABASE_NAME", db.name.clone()),
        ("DATABASE_SECRET_ARN", db_arn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    // The queue exists before billing-api publishes: setup declares it (billing-api only publishes).
    let conn = billing_support::amqp_connect(&integration_tests::amqp_url()).await;
    broker::topology::declare(&conn, &queue).await.unwrap();
    let _ = conn.close(200, "declared".into()).await;

    let secrets = SecretSource::new(&settings::ProcessEnv);
    let amqp = AmqpSettings::from_env(&env, &secrets).await.unwrap();
    assert!(!amqp.declare_topology, "billing-api only publishes");
    assert_eq!(amqp.queue, queue);
    assert!(
        !format!("{amqp:?}").contains(&admin_password),
        "the URI never prints"
    );
    let settings = DbSettings::from_env(&env, &secrets).await.unwrap();
    let router = billing_api::router(AppState {
        publisher: Publisher::new(amqp),
        db: Db::new(&settings).unwrap(),
        metrics: Metrics::capturing("billing-api").0,
    });
    let r = call(
        &router,
        "POST",
        "/api/billing",
        Some(&billing_support::order_body(1)),
        USER,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let id = r.json["message_id"].as_str().unwrap();
    call(
        &router,
        "GET",
        &format!("/api/billing/orders/{id}"),
        None,
        USER,
    )
    .await
    .assert_problem(404);

    let missing = AmqpSettings::from_env(
        &HashMap::from([
            ("AMQP_ENDPOINT".to_owned(), "amqps://h:5671".to_owned()),
            (
                "AMQP_SECRET_ARN".to_owned(),
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent".to_owned(),
            ),
        ]),
        &secrets,
    )
    .await
    .unwrap_err();
    assert!(missing.to_string().contains("absent"), "{missing}");
    billing_support::delete_queue(&queue).await;
}
