//! `inventory`: CRUD on movies, an axum Router served by lambda_http.

pub mod domain;
pub mod error;
pub mod repo;
pub mod routes;

pub use error::ApiError;
pub use routes::{AppState, router};
