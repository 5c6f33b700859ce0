//! Wiring only: telemetry, then the app (config, the pool once per cold start), then serve.

use shared::config::ProcessEnv;
use shared::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::install_crypto_provider();
    shared::telemetry::init();
    lambda_http::run(inventory::app(&ProcessEnv, Metrics::from_env("inventory")).await?).await
}
