//! Wiring only: telemetry, config, the pool (once per cold start), then serve.

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
    let settings = DbSettings::from_env(&ProcessEnv, &secrets).await?;
    let db = Db::new(&settings)?;
    let state = inventory::AppState::new(db, Metrics::from_env("inventory"));
    let origin = OriginVerify::from_env(&ProcessEnv, &secrets).await?;
    lambda_http::run(origin.around(admin.attach(inventory::router(state)))).await
}
