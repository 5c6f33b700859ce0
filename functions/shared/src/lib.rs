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

pub use config::Secret;
pub use problem::Problem;

/// Installs the process-wide rustls crypto provider. Several dependencies enable different
/// providers, so rustls cannot pick one by itself; call this first thing in `main` and in tests.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
