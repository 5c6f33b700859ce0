//! Code every function shares. Each function's `main.rs` only wires these pieces together.
//!
//! Features: `aws` (the SDK configuration), `secrets` (Secrets Manager), `db` (the pool and
//! migrations), `http` (the HTTP edge: problems, auth claims, origin verification, trailing
//! slashes); config, telemetry and metrics are always there.

#[cfg(feature = "http")]
pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
#[cfg(feature = "db")]
pub mod db;
#[cfg(all(feature = "http", feature = "db"))]
pub mod db_failure;
#[cfg(feature = "http")]
pub mod extract;
pub mod metrics;
#[cfg(feature = "db")]
pub mod migrate;
#[cfg(feature = "http")]
pub mod origin;
#[cfg(feature = "http")]
pub mod problem;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod telemetry;
#[cfg(feature = "http")]
pub mod trailing_slash;
#[cfg(all(feature = "http", feature = "db"))]
pub mod wiring;

pub use config::Secret;
#[cfg(feature = "http")]
pub use problem::Problem;

/// The largest batch the billing event source mapping may deliver: the most billing-consumer
/// stores within its 30 s timeout even when the database refuses every row (a full bisection
/// plus a dead letter per row). The arithmetic and the measurements are in the README
/// ("Billing"); Terraform's `billing_batch_size` and the local gateway enforce the same cap.
pub const MAX_BILLING_BATCH: usize = 1000;

/// Installs the process-wide rustls crypto provider. Several dependencies enable different
/// providers, so rustls cannot pick one by itself; call this first thing in `main` and in tests.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
