#![cfg_attr(test, allow(clippy::unwrap_used))]
//! billing-api: accepts orders over HTTP and publishes them to RabbitMQ with publisher confirms;
//! answers where an order stands. `main.rs` only wires these pieces.

pub mod amqp;
pub mod domain;
pub mod http;
pub mod topology;

pub use amqp::{AmqpSettings, PublishError, Publisher};
pub use domain::{
    Amount, IdempotencyKey, Order, OrderMessage, OrderRequest, StoredOrder, ValidationError,
};
pub use http::{AppState, router};
