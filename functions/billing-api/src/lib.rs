#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-api: accepts orders over HTTP and publishes them to RabbitMQ with publisher confirms;
//! answers where an order stands. `main.rs` only wires these pieces; the order, the message and
//! the publisher live in the `billing` library.

pub mod error;
pub mod http;

pub use error::ApiError;
pub use http::{AppState, router};

use shared::auth::AdminPolicy;
use shared::config::Env;
use shared::db::{Db, DbSettings};
use shared::metrics::Metrics;
use shared::origin::{OriginVerify, OriginVerifyService};
use shared::secrets::SecretSource;

/// The function as Lambda serves it, wired from its configuration `env`: the admin policy, the
/// broker publisher and the pool (built once, connected on first use) and the origin check
/// around the routes. `main` and the end-to-end tests (in-process) both call it.
pub async fn app(
    env: &impl Env,
    metrics: Metrics,
) -> Result<OriginVerifyService<axum::Router>, lambda_http::Error> {
    let admin = AdminPolicy::from_env(env)?;
    let secrets = SecretSource::new();
    let amqp = billing::AmqpSettings::from_env(env, &secrets).await?;
    let db = Db::new(&DbSettings::from_env(env, &secrets).await?)?;
    let state = AppState {
        publisher: billing::Publisher::new(amqp),
        db,
        metrics,
    };
    let origin = OriginVerify::from_env(env, &secrets).await?;
    Ok(origin.around(admin.attach(router(state))))
}
