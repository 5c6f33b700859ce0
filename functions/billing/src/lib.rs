#![cfg_attr(test, allow(clippy::unwrap_used))]
//! The billing domain, shared by the three functions that touch an order: billing-api validates
//! and publishes it, billing-consumer validates and stores it, setup declares where it travels.
//! A library, so no Lambda crate depends on another.

#[cfg(feature = "broker")]
pub mod amqp;
pub mod message;
pub mod order;
pub mod rmq;
#[cfg(feature = "broker")]
pub mod topology;

#[cfg(feature = "broker")]
pub use amqp::{AmqpSettings, PublishError, Publisher};
pub use message::{IdempotencyKey, MAX_IDEMPOTENCY_KEY, MessageId, OrderMessage};
pub use order::{Amount, Order, OrderRequest, StoredOrder, ValidationError};
