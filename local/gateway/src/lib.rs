//! A local stand-in for the AWS pieces in front of and around the functions, in one process:
//!
//! - [`lambda`]: the Lambda service. Runs each function's `bootstrap` behind its own Lambda
//!   runtime API, scales instances on demand up to a concurrency limit, enforces timeouts and
//!   replaces crashed instances. Reusable on its own (benchmarks measure cold starts with it).
//! - [`server`]: API Gateway HTTP API (routes from `openapi.yaml`, the JWT authorizer,
//!   payload format 2.0) plus the Lambda Invoke API and a `/_local/` admin API.
//! - [`esm`]: the Amazon MQ (RabbitMQ) event source mapping.
//! - [`watch`]: the functions under `cargo lambda watch` instead (`make dev WATCH=1`).
//!
//! What differs from AWS, and why, is written in `local/README.md`.

pub mod apigw;
pub mod authorizer;
pub mod config;
pub mod esm;
pub mod lambda;
pub mod localaws;
pub mod metrics;
pub mod monitoring;
pub mod openapi;
pub mod request;
pub mod sampler;
pub mod server;
pub mod time;
pub mod watch;

pub use config::GatewayConfig;
pub use lambda::{FunctionConfig, Invocation, InvokeError, LambdaService};
pub use server::{RunningGateway, start};
