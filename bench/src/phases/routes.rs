//! The routes the latency phases measure, and one in-process request through a router.

use std::sync::Arc;

use axum::Router;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use integration_tests::request;
use serde_json::json;
use uuid::Uuid;

use super::references::RefKind;

const ORDER_BODY: &str = r#"{"user_id": "42", "number_of_items": "3", "total_amount": "12.50"}"#;

/// The request context API Gateway's JWT authorizer attaches for the bench user, an editor.
pub(super) fn request_context() -> Result<lambda_http::request::RequestContext, String> {
    Ok(request::request_context(request::user_claims(
        "sub-bench",
        "bench",
        Some("[editors]"),
    )))
}

/// One request in-process; true when the status is 200.
pub(super) async fn oneshot(
    router: &Router,
    rc: &lambda_http::request::RequestContext,
    method: Method,
    uri: &str,
    body: Option<String>,
) -> bool {
    let Ok(req) = request::request(method, uri, body, &[], Some(rc.clone())) else {
        return false;
    };
    let response = request::oneshot(router, req).await;
    response.status() == StatusCode::OK && response.into_body().collect().await.is_ok()
}

/// A route to measure: method, path for request `i`, body for request `i`, and the reference
/// round trip its floor is made of.
pub(super) struct Route {
    pub(super) name: &'static str,
    pub(super) method: Method,
    pub(super) path: Arc<dyn Fn(usize) -> String + Send + Sync>,
    pub(super) body: Option<Arc<dyn Fn(usize) -> String + Send + Sync>>,
    pub(super) kind: RefKind,
}

pub(super) fn inventory_routes(delete_from: usize) -> Vec<Route> {
    vec![
        Route {
            name: "GET /api/movies/{id}",
            method: Method::GET,
            path: Arc::new(|i| format!("/api/movies/{}", 1 + i % 1000)),
            body: None,
            kind: RefKind::Read,
        },
        Route {
            name: "GET /api/movies?limit=10",
            method: Method::GET,
            path: Arc::new(|i| format!("/api/movies?limit=10&cursor={}", 1 + i % 1000)),
            body: None,
            kind: RefKind::Read,
        },
        Route {
            name: "POST /api/movies",
            method: Method::POST,
            path: Arc::new(|_| "/api/movies".into()),
            body: Some(Arc::new(|i| {
                json!({"title": format!("Bench new {i}"), "description": "created by make bench"})
                    .to_string()
            })),
            kind: RefKind::Write,
        },
        Route {
            name: "PUT /api/movies/{id}",
            method: Method::PUT,
            path: Arc::new(|i| format!("/api/movies/{}", 1 + i % 1000)),
            body: Some(Arc::new(|i| {
                json!({"description": format!("updated by make bench {i}")}).to_string()
            })),
            kind: RefKind::Write,
        },
        Route {
            name: "DELETE /api/movies/{id}",
            method: Method::DELETE,
            path: Arc::new(move |i| format!("/api/movies/{}", delete_from + i)),
            body: None,
            kind: RefKind::Write,
        },
        Route {
            name: "GET /health",
            method: Method::GET,
            path: Arc::new(|_| "/health".into()),
            body: None,
            kind: RefKind::Read,
        },
    ]
}

pub(super) fn billing_post_route() -> Route {
    Route {
        name: "POST /api/billing",
        method: Method::POST,
        path: Arc::new(|_| "/api/billing".into()),
        body: Some(Arc::new(|_| ORDER_BODY.to_owned())),
        kind: RefKind::Publish,
    }
}

pub(super) fn billing_get_route(ids: Arc<Vec<Uuid>>) -> Route {
    Route {
        name: "GET /api/billing/orders/{id}",
        method: Method::GET,
        path: Arc::new(move |i| {
            format!(
                "/api/billing/orders/{}",
                ids.get(i % ids.len().max(1)).copied().unwrap_or_default()
            )
        }),
        body: None,
        kind: RefKind::Read,
    }
}
