//! The three functions in-process, each wired from the environment the gateway config gives it,
//! as its `main` wires itself (config, pool, clients), behind the gateway's [`InProcess`] invoker.

use std::collections::HashMap;
use std::sync::Arc;

use local_gateway::lambda::FunctionConfig;
use local_gateway::metrics::Recorder;
use local_gateway::{InProcess, Invoker, LambdaService};
use telemetry::metrics::Metrics;

/// What Lambda hands a function: its configured variables plus the role's credentials and the
/// region (see the gateway's spawned environment).
fn environment(cfg: &FunctionConfig) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
    ]
    .into_iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_owned(), v)))
    .collect();
    env.extend(cfg.env.clone());
    env
}

/// The function's metrics: EMF lines on stdout with `TEST_LOG`, as in the deployed function;
/// kept in memory otherwise (quiet tests).
fn metrics(service: &str) -> Metrics {
    if std::env::var_os("TEST_LOG").is_some() {
        Metrics::from_env(&settings::ProcessEnv, service)
    } else {
        Metrics::capturing(service).0
    }
}

async fn http_function(cfg: &FunctionConfig) -> InProcess {
    let env = environment(cfg);
    match cfg.name.as_str() {
        "inventory" => InProcess::http(inventory::app(&env, metrics("inventory")).await.unwrap()),
        "billing-api" => InProcess::http(
            billing_api::app(&env, metrics("billing-api"))
                .await
                .unwrap(),
        ),
        other => panic!("no HTTP function {other}"),
    }
}

async fn consumer_function(cfg: &FunctionConfig) -> InProcess {
    let env = environment(cfg);
    let consumer = billing_consumer::Consumer::from_env(&env, metrics("billing-consumer"))
        .await
        .unwrap();
    let consumer = Arc::new(consumer);
    InProcess::new(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<billing_consumer::RabbitMqEvent>| {
            let consumer = consumer.clone();
            async move { billing_consumer::handle(event.payload, &consumer).await }
        },
    ))
}

/// The gateway config's functions, each run in-process.
pub async fn in_process(functions: &[FunctionConfig]) -> LambdaService {
    let mut invokers: Vec<(String, Arc<dyn Invoker>)> = Vec::new();
    for cfg in functions {
        let invoker = match cfg.name.as_str() {
            "billing-consumer" => consumer_function(cfg).await,
            _ => http_function(cfg).await,
        };
        invokers.push((cfg.name.clone(), Arc::new(invoker)));
    }
    LambdaService::with_invokers(Recorder::new(), invokers)
}
