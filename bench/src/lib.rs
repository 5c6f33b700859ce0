//! `make bench`: measures the functions the way Lambda runs them, on loopback, against the real
//! PostgreSQL, RabbitMQ and moto, and checks the figures against their targets.
//! The binary (`src/main.rs`) runs the phases; these modules are its parts.

pub mod cgroup;
pub mod chart;
pub mod http;
pub mod load;
pub mod pricing;
pub mod proc;
pub mod report;
pub mod setup;
pub mod stats;
