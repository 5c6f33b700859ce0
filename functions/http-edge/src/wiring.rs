//! What every HTTP function builds at a cold start, in the order that fails fastest: the admin
//! policy (configuration only, so a half-configured function stops before any network call), the
//! database pool from its secret (built once, connected on first use), and, around the routes,
//! the admin policy and the origin check. `inventory::app` and `billing_api::app` are this plus
//! their own state.

use axum::Router;

use crate::auth::AccessPolicy;
use crate::origin::OriginVerify;
use database::{Db, DbSettings};
use secrets::SecretSource;
use settings::Env;

/// The parts a function's routes are built from; [`Wiring::serve`] finishes the function.
pub struct Wiring {
    admin: AccessPolicy,
    /// For the function's own secrets as well (billing-api: the broker's).
    pub secrets: SecretSource,
    pub db: Db,
}

impl Wiring {
    pub async fn from_env(env: &impl Env) -> Result<Self, lambda_http::Error> {
        let admin = AccessPolicy::from_env(env)?;
        let secrets = SecretSource::new(env);
        let db = Db::new(&DbSettings::from_env(env, &secrets).await?)?;
        Ok(Self { admin, secrets, db })
    }

    /// The routes as Lambda serves them: the admin policy attached, the origin check around.
    pub async fn serve(self, env: &impl Env, routes: Router) -> Result<Router, lambda_http::Error> {
        let origin = OriginVerify::from_env(env, &self.secrets).await?;
        Ok(origin.around(self.admin.attach(routes)))
    }
}
