//! `inventory`: CRUD on movies, an axum Router served by lambda_http.

pub mod domain;
pub mod error;
pub mod repo;
pub mod routes;

pub use error::ApiError;
pub use routes::{AppState, router};

use shared::auth::AdminPolicy;
use shared::config::Env;
use shared::db::{Db, DbSettings};
use shared::metrics::Metrics;
use shared::origin::{OriginVerify, OriginVerifyService};
use shared::secrets::SecretSource;

/// The function as Lambda serves it, wired from its configuration `env`: the admin policy, the
/// pool (built once, connected on first use) and the origin check around the routes. `main` and
/// the end-to-end tests (in-process) both call it, so they run the same wiring.
pub async fn app(
    env: &impl Env,
    metrics: Metrics,
) -> Result<OriginVerifyService<axum::Router>, lambda_http::Error> {
    let admin = AdminPolicy::from_env(env)?;
    let secrets = SecretSource::new();
    let db = Db::new(&DbSettings::from_env(env, &secrets).await?)?;
    let origin = OriginVerify::from_env(env, &secrets).await?;
    Ok(origin.around(admin.attach(router(AppState::new(db, metrics)))))
}
