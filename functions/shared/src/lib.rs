//! Code every function shares. Each function's `main.rs` only wires these pieces together.

pub mod auth;
pub mod aws;
pub mod config;
pub mod db;
pub mod metrics;
pub mod migrate;
pub mod origin;
pub mod problem;
pub mod secrets;
pub mod telemetry;
pub mod trailing_slash;

pub use config::Secret;
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
