#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-api: accepts orders over HTTP and publishes them to RabbitMQ with publisher confirms;
//! answers where an order stands. `main.rs` only wires these pieces; the order, the message and
//! the publisher live in the `billing` library.

pub mod error;
pub mod repo;
pub mod routes;

pub use error::ApiError;
pub use routes::{AppState, router};

use http_edge::wiring::Wiring;
use settings::Env;
use telemetry::metrics::Metrics;

/// The function as Lambda serves it, wired from its configuration `env` ([`Wiring`]: the admin
/// policy, the pool, the origin check) around its routes, plus the broker publisher (connected on
/// first use). `main` and the end-to-end tests (in-process) both call it.
pub async fn app(env: &impl Env, metrics: Metrics) -> Result<axum::Router, lambda_http::Error> {
    let wiring = Wiring::from_env(env).await?;
    let amqp = broker::AmqpSettings::from_env(env, &wiring.secrets).await?;
    let state = AppState {
        publisher: broker::Publisher::new(amqp),
        db: wiring.db.clone(),
        metrics,
    };
    wiring.serve(env, router(state)).await
}
