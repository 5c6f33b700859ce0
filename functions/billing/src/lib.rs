#![cfg_attr(test, allow(clippy::unwrap_used))]
//! The billing domain, shared by the functions that touch an order: billing-api validates and
//! publishes it, billing-consumer validates and stores it; both read the same [`OrderMessage`]
//! and the same `aws:rmq` event ([`rmq`]). The RabbitMQ topology and publisher are the `broker`
//! library. A library, so no Lambda crate depends on another.

pub mod message;
pub mod order;
pub mod rmq;

pub use message::{IdempotencyKey, MAX_IDEMPOTENCY_KEY, MessageId, OrderMessage};
pub use order::{Amount, Order, OrderRequest, StoredOrder, ValidationError};

/// The largest batch the billing event source mapping may deliver: the most billing-consumer
/// stores within its 30 s timeout even when the database refuses every row (a full bisection
/// plus a dead letter per row). The arithmetic and the measurements are in the README
/// ("Billing"); Terraform's `billing_batch_size` and the local gateway enforce the same cap.
pub const MAX_BILLING_BATCH: usize = 1000;
