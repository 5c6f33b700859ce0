use billing_consumer::{Consumer, RabbitMqEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use shared::config::{Env, ProcessEnv};
use shared::db::{Db, DbSettings};
use shared::metrics::Metrics;
use shared::secrets::SecretSource;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::install_crypto_provider();
    shared::telemetry::init();
    let secrets = SecretSource::new();
    let db = Db::new(&DbSettings::from_env(&ProcessEnv, &secrets).await?)?;
    let dlq_url = ProcessEnv.required("DLQ_URL")?;
    let aws = shared::aws::sdk_config(&ProcessEnv);
    let consumer = Consumer {
        db,
        sqs: aws_sdk_sqs::Client::new(&aws),
        dlq_url,
        metrics: Metrics::from_env("billing-consumer"),
    };
    let consumer = &consumer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<RabbitMqEvent>| async move {
            billing_consumer::handle(event.payload, consumer).await
        },
    ))
    .await
}
