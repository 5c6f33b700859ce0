//! Wiring only: telemetry, then the consumer (config, the pool once per cold start), then serve.

use billing_consumer::{Consumer, RabbitMqEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use settings::ProcessEnv;
use telemetry::metrics::Metrics;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    settings::install_crypto_provider();
    telemetry::init(&ProcessEnv);
    let consumer = Consumer::from_env(
        &ProcessEnv,
        Metrics::from_env(&ProcessEnv, "billing-consumer"),
    )
    .await?;
    let consumer = &consumer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<RabbitMqEvent>| async move {
            billing_consumer::handle(event.payload, consumer).await
        },
    ))
    .await
}
