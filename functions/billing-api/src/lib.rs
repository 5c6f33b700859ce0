#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-api: accepts orders over HTTP and publishes them to RabbitMQ with publisher confirms;
//! answers where an order stands. `main.rs` only wires these pieces; the order, the message and
//! the publisher live in the `billing` library.

pub mod error;
pub mod http;

pub use error::ApiError;
pub use http::{AppState, router};
