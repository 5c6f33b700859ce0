#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-api: accepts orders over HTTP and publishes them to RabbitMQ with publisher confirms;
//! answers where an order stands. `main.rs` only wires these pieces; the order, the message and
//! the publisher live in the `billing` library.

pub mod error;
pub mod http;

pub use error::ApiError;
pub use http::{AppState, router};

use shared::config::Env;
use shared::metrics::Metrics;
use shared::origin::OriginVerifyService;
use shared::wiring::Wiring;

/// The function as Lambda serves it, wired from its configuration `env` ([`Wiring`]: the admin
/// policy, the pool, the origin check) around its routes, plus the broker publisher (connected on
/// first use). `main` and the end-to-end tests (in-process) both call it.
pub async fn app(
    env: &impl Env,
    metrics: Metrics,
) -> Result<OriginVerifyService<axum::Router>, lambda_http::Error> {
    let wiring = Wiring::from_env(env).await?;
    let amqp = billing::AmqpSettings::from_env(env, &wiring.secrets).await?;
    let state = AppState {
        publisher: billing::Publisher::new(amqp),
        db: wiring.db.clone(),
        metrics,
    };
    wiring.serve(env, router(state)).await
}
