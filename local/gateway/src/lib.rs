//! A local stand-in for the AWS pieces in front of and around the functions, in one process:
//!
//! - [`lambda`]: the Lambda service, each function behind an [`Invoker`]: its spawned
//!   `bootstrap` behind its own Lambda runtime API (on-demand instances up to a concurrency
//!   limit, timeouts, crash replacement; benchmarks measure cold starts with it), `cargo lambda
//!   watch`, or its handler called in-process ([`InProcess`], for tests).
//! - [`server`]: API Gateway HTTP API (routes from `openapi.yaml`, the JWT authorizer,
//!   payload format 2.0) plus the Lambda Invoke API and a `/_local/` admin API.
//! - [`esm`]: the Amazon MQ (RabbitMQ) event source mapping; [`rmq_event`] the event it builds.
//! - [`watch`]: the functions from debug builds rebuilt on save instead (`make dev WATCH=1`).
//! - [`web`]: the web client on the gateway's origin (CloudFront and S3's role) and a local
//!   stand-in for Cognito's managed login.
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
pub mod rmq_event;
pub mod sampler;
pub mod server;
pub mod time;
pub mod watch;
pub mod web;

pub use config::GatewayConfig;
pub use lambda::{
    FunctionConfig, InProcess, Invocation, InvokeError, Invoker, LambdaService, SpawnedFunction,
};
pub use server::{RunningGateway, start, start_with};
