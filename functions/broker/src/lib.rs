#![cfg_attr(test, allow(clippy::unwrap_used))]
//! The RabbitMQ side of billing: the topology setup declares (`topology`) and the publisher
//! billing-api sends orders with (`amqp`). billing-consumer does not depend on it: it reads what
//! the event source mapping delivers, so it links no AMQP client.

pub mod amqp;
pub mod topology;

pub use amqp::{AmqpSettings, PublishError, Publisher};
