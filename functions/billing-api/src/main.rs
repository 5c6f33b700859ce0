//! Wiring only: telemetry, config, the broker publisher and the pool (once per cold start).
//! One thread: Lambda sends one request at a time per environment.

use shared::auth::AdminPolicy;
use shared::config::ProcessEnv;
use shared::db::{Db, DbSettings};
use shared::metrics::Metrics;
use shared::origin::OriginVerify;
use shared::secrets::SecretSource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::install_crypto_provider();
    shared::telemetry::init();
    let admin = AdminPolicy::from_env(&ProcessEnv)?;
    let secrets = SecretSource::new();
    let amqp = billing::AmqpSettings::from_env(&ProcessEnv, &secrets).await?;
    let db = Db::new(&DbSettings::from_env(&ProcessEnv, &secrets).await?)?;
    let state = billing_api::AppState {
        publisher: billing::Publisher::new(amqp),
        db,
        metrics: Metrics::from_env("billing-api"),
    };
    let origin = OriginVerify::from_env(&ProcessEnv, &secrets).await?;
    lambda_http::run(origin.around(admin.attach(billing_api::router(state)))).await
}
