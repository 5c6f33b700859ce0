//! Wiring only: telemetry, config, the pool (once per cold start), then serve.

use shared::auth::AdminPolicy;
use shared::config::ProcessEnv;
use shared::db::{Db, DbSettings};
use shared::metrics::Metrics;
use shared::secrets::SecretSource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::install_crypto_provider();
    shared::telemetry::init();
    let admin = AdminPolicy::from_env(&ProcessEnv)?;
    let settings = DbSettings::from_env(&ProcessEnv, &SecretSource::new()).await?;
    let db = Db::new(&settings)?;
    let state = inventory::AppState::new(db, Metrics::from_env("inventory"));
    lambda_http::run(admin.attach(inventory::router(state))).await
}
