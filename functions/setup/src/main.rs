//! `setup` runs as a Lambda (Terraform invokes it with `{"action":"setup"}` on each change)
//! or, with the argument `local`, once against the local cluster (`make migrate`).

use lambda_runtime::{LambdaEvent, service_fn};
use secrets::SecretSource;
use serde_json::{Value, json};
use settings::ProcessEnv;

/// Local defaults: the private cluster's superuser, one role per application database, the
/// local RabbitMQ's administrator and management API, and the two broker users (the same
/// least-privilege users as on AWS; scripts/services.sh writes their URLs for the gateway).
const LOCAL_DEFAULTS: [(&str, &str); 17] = [
    ("DATABASE_MASTER_USER", "CRUD_PG_USER"),
    ("DATABASE_MASTER_PASSWORD", "CRUD_PG_PASSWORD"),
    ("DATABASE_HOST", "CRUD_PG_HOST"),
    ("DATABASE_PORT", "CRUD_PG_PORT"),
    ("MOVIES_DB_USER", "=movies_app"),
    ("ORDERS_DB_USER", "=orders_app"),
    ("MOVIES_DB_PASSWORD", "=movies-local-password"),
    ("ORDERS_DB_PASSWORD", "=orders-local-password"),
    ("ORDERS_READER_USER", "=orders_reader"),
    ("ORDERS_READER_PASSWORD", "=orders-reader-local-password"),
    ("RABBITMQ_MANAGEMENT_URL", "CRUD_RABBIT_MGMT_URL"),
    ("AMQP_USER", "CRUD_AMQP_ADMIN_USER"),
    ("AMQP_PASSWORD", "CRUD_AMQP_ADMIN_PASSWORD"),
    ("BROKER_PUBLISHER_USER", "CRUD_AMQP_PUBLISHER_USER"),
    ("BROKER_PUBLISHER_PASSWORD", "CRUD_AMQP_PUBLISHER_PASSWORD"),
    ("BROKER_CONSUMER_USER", "CRUD_AMQP_CONSUMER_USER"),
    ("BROKER_CONSUMER_PASSWORD", "CRUD_AMQP_CONSUMER_PASSWORD"),
];

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    settings::install_crypto_provider();
    telemetry::init(&ProcessEnv);
    if std::env::args().nth(1).as_deref() == Some("local") {
        let mut env: std::collections::HashMap<String, String> = std::env::vars().collect();
        for (name, from) in LOCAL_DEFAULTS {
            if !env.contains_key(name) {
                let value = match from.strip_prefix('=') {
                    Some(literal) => Some(literal.to_owned()),
                    None => env.get(from).cloned(),
                };
                if let Some(v) = value {
                    env.insert(name.into(), v);
                }
            }
        }
        let cfg = setup::SetupConfig::from_env(&env, &SecretSource::new(&env)).await?;
        let report = setup::run(&cfg).await?;
        eprintln!("[setup] {}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let cfg = setup::SetupConfig::from_env(&ProcessEnv, &SecretSource::new(&ProcessEnv)).await?;
    let cfg = &cfg;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        tracing::info!(event = %event.payload, "setup requested");
        let report = setup::run(cfg).await?;
        tracing::info!(?report, "setup done");
        Ok::<_, lambda_runtime::Error>(json!(report))
    }))
    .await
}
