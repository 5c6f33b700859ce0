//! One trailing slash is not significant: `/api/movies/` is `/api/movies`.
//!
//! API Gateway HTTP APIs route `/api/movies/` to the `/api/movies` route, but the event's
//! `rawPath` keeps the slash (only `requestContext.http.path` drops it), and `lambda_http` builds
//! the request URI from `rawPath`. Without this layer the functions' routers would answer 404 to
//! what the gateway accepted; the crud-master audit sends the slash (`POST /api/movies/`).
//! See the local gateway's `openapi.rs` for the sources of that rule.
//!
//! Only ONE slash is dropped: `/api/movies//` keeps its path (and gets the router's 404), as
//! API Gateway answers it with its own 404.

use axum::Router;
use axum::extract::Request;
use http::Uri;
use http::uri::PathAndQuery;

/// `router` behind the rewrite, still a `Router`. The rewrite must run before routing, and a
/// layer on `router` itself would run after it: so the rewrite is a layer on an outer router
/// whose only route is the fallback that hands the normalised request to `router`.
pub fn normalize(router: Router) -> Router {
    Router::new()
        .fallback_service(router)
        .layer(axum::middleware::map_request(drop_trailing_slash))
}

async fn drop_trailing_slash(mut request: Request) -> Request {
    if let Some(uri) = without_trailing_slash(request.uri()) {
        *request.uri_mut() = uri;
    }
    request
}

/// The URI without its one trailing slash, or `None` when there is nothing to drop (no slash,
/// the root `/`, or two or more slashes).
pub fn without_trailing_slash(uri: &Uri) -> Option<Uri> {
    let trimmed = uri.path().strip_suffix('/')?;
    if trimmed.is_empty() || trimmed.ends_with('/') {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    #[test]
    fn drops_exactly_one_slash_and_keeps_the_query() {
        let strip = |s: &str| without_trailing_slash(&s.parse().unwrap()).map(|u| u.to_string());
        assert_eq!(strip("/api/movies/").as_deref(), Some("/api/movies"));
        assert_eq!(
            strip("/api/movies/?title=a/&limit=2").as_deref(),
            Some("/api/movies?title=a/&limit=2")
        );
        assert_eq!(strip("/api/movies/7/").as_deref(), Some("/api/movies/7"));
        assert_eq!(
            strip("https://x.example/api/billing/").as_deref(),
            Some("https://x.example/api/billing")
        );
        for unchanged in ["/api/movies", "/", "/api/movies//", "/api/movies?x=/"] {
            assert_eq!(strip(unchanged), None, "{unchanged}");
        }
    }

    async fn call(router: &Router, method: &str, uri: &str) -> (StatusCode, String) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1024).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_router_answers_the_same_with_or_without_one_trailing_slash() {
        let app = normalize(
            Router::new()
                .route(
                    "/api/movies",
                    get(|| async { "list" }).post(|| async { "made" }),
                )
                .route(
                    "/api/movies/{id}",
                    get(
                        |axum::extract::Path(id): axum::extract::Path<String>| async move {
                            format!("movie {id}")
                        },
                    ),
                )
                .route(
                    "/q",
                    get(|q: axum::extract::RawQuery| async move { q.0.unwrap_or_default() }),
                )
                .fallback(|| async { (StatusCode::NOT_FOUND, "none") }),
        );
        for (method, uri, want) in [
            ("GET", "/api/movies", "list"),
            ("GET", "/api/movies/", "list"),
            ("POST", "/api/movies/", "made"),
            ("GET", "/api/movies/42", "movie 42"),
            ("GET", "/api/movies/42/", "movie 42"),
            ("GET", "/q/?a=1&b=/", "a=1&b=/"),
        ] {
            assert_eq!(
                call(&app, method, uri).await,
                (StatusCode::OK, want.into()),
                "{method} {uri}"
            );
        }
        for uri in ["/api/movies//", "/api//movies", "/api/movies/42//"] {
            assert_eq!(
                call(&app, "GET", uri).await.0,
                StatusCode::NOT_FOUND,
                "{uri}"
            );
        }
    }
}
