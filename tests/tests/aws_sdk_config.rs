//! The functions build their AWS clients from the environment Lambda sets (secrets::sdk), not
//! from aws-config: prove those clients really talk to an AWS API (moto) — SQS as
//! billing-consumer uses it for dead letters, and Secrets Manager as every function reads
//! credentials.

use settings::{ExposeSecret, ProcessEnv};

#[tokio::test]
async fn clients_from_the_lambda_environment_reach_sqs_and_secrets_manager() {
    settings::install_crypto_provider();
    let config = secrets::sdk::sdk_config(&ProcessEnv);
    assert!(
        config.endpoint_url().is_some(),
        "AWS_ENDPOINT_URL points at moto in tests"
    );

    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = integration_tests::unique("sdk_config");
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sqs.send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .unwrap();
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages().first().and_then(|m| m.body()), Some("hello"));
    sqs.delete_queue().queue_url(&url).send().await.unwrap();

    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let arn = sm
        .create_secret()
        .name(integration_tests::unique("sdk_config"))
        .secret_string(r#"{"username":"u","password":"p-123"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let secret = secrets::SecretSource::new(&settings::ProcessEnv)
        .get(&arn)
        .await
        .unwrap();
    assert!(secret.expose_secret().contains("p-123"));
}
