//! The HTTP edge both HTTP functions share: problem+json answers and the body and query parsers
//! (`problem`), extractors whose rejections are problems (`extract`), the authorizer's claims and
//! the admin policy (`auth`), the CloudFront origin check (`origin`), trailing-slash
//! normalisation (`trailing_slash`), the functions' error type (`api_error`) and what every HTTP
//! function builds at a cold start (`wiring`).

pub mod api_error;
pub mod auth;
pub mod extract;
pub mod origin;
pub mod problem;
pub mod trailing_slash;
pub mod wiring;

pub use problem::Problem;
