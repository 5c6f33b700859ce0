//! Wiring only: telemetry, then the app (config, the broker publisher and the pool once per cold
//! start), then serve. One thread: Lambda sends one request at a time per environment.

use shared::config::ProcessEnv;
use shared::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::install_crypto_provider();
    shared::telemetry::init();
    lambda_http::run(billing_api::app(&ProcessEnv, Metrics::from_env("billing-api")).await?).await
}
