#![cfg_attr(test, allow(clippy::unwrap_used))]
//! `inventory`: CRUD on movies, an axum Router served by lambda_http.

pub mod domain;
pub mod error;
pub mod repo;
pub mod routes;

pub use error::ApiError;
pub use routes::{AppState, router};

use http_edge::wiring::Wiring;
use settings::Env;
use telemetry::metrics::Metrics;

/// The function as Lambda serves it, wired from its configuration `env` ([`Wiring`]: the admin
/// policy, the pool, the origin check) around its routes. `main` and the end-to-end tests
/// (in-process) both call it, so they run the same wiring.
pub async fn app(env: &impl Env, metrics: Metrics) -> Result<axum::Router, lambda_http::Error> {
    let wiring = Wiring::from_env(env).await?;
    let state = AppState::new(wiring.db.clone(), metrics);
    wiring.serve(env, router(state)).await
}
