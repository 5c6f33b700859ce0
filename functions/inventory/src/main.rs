//! Wiring only: telemetry, then the app (config, the pool once per cold start), then serve.

use settings::ProcessEnv;
use telemetry::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    settings::install_crypto_provider();
    telemetry::init(&ProcessEnv);
    lambda_http::run(
        inventory::app(&ProcessEnv, Metrics::from_env(&ProcessEnv, "inventory")).await?,
    )
    .await
}
