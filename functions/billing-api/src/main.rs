//! Wiring only: telemetry, then the app (config, the broker publisher and the pool once per cold
//! start), then serve. One thread: Lambda sends one request at a time per environment.

use settings::ProcessEnv;
use telemetry::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    settings::install_crypto_provider();
    telemetry::init(&ProcessEnv);
    lambda_http::run(
        billing_api::app(&ProcessEnv, Metrics::from_env(&ProcessEnv, "billing-api")).await?,
    )
    .await
}
