//! Origin verification: when the API sits behind CloudFront (Terraform `create_cdn`), only
//! requests that carry CloudFront's secret origin header reach the handlers.
//!
//! An HTTP API has no resource policy and AWS WAF cannot be attached to it, so nothing in API
//! Gateway stops a client from calling the `execute-api` URL directly and skipping the web ACL.
//! CloudFront adds the custom origin header [`HEADER`] to every request it forwards, overwriting a
//! header of the same name sent by the viewer
//! (<https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/add-origin-custom-headers.html>,
//! "Control access to content" / "If the header exists, CloudFront overwrites it"); this layer
//! answers 403 problem+json to anything without the right value.
//!
//! Every path is checked, `/health` included: through the CDN the header is always there, so a
//! health probe calls the CDN URL like any client, and around it `/health` (the only route the JWT
//! authorizer lets through unauthenticated) would otherwise tell an outsider whether the database
//! is up.
//!
//! Configuration, read once per cold start by [`OriginVerify::from_env`]:
//! `ORIGIN_VERIFY_SECRET_ARN` (a Secrets Manager secret whose string is the value, what Terraform
//! sets) or `ORIGIN_VERIFY_SECRET` (the value itself, for local runs). Neither set: the check is
//! off, which is the local stack and a deployment without the CDN. Terraform also sets
//! `ORIGIN_VERIFY_SECRET_VERSION`, which is not read: it changes the function configuration after a
//! rotation so that new environments read the new value.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;
use secrets::SecretSource;
use settings::{ConfigError, Env, ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The custom origin header CloudFront adds (Terraform `modules/cdn`, `origin_verify_header`).
pub const HEADER: &str = "x-origin-verify";

/// Environment variable naming the Secrets Manager secret that holds the expected value.
pub const SECRET_ARN_VAR: &str = "ORIGIN_VERIFY_SECRET_ARN";
/// Environment variable holding the expected value itself (local runs, tests).
pub const SECRET_VAR: &str = "ORIGIN_VERIFY_SECRET";

/// The check and its expected value. Cheap to clone; the value is shared.
#[derive(Clone, Default)]
pub struct OriginVerify {
    expected: Option<Arc<SecretString>>,
}

impl std::fmt::Debug for OriginVerify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginVerify")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl OriginVerify {
    /// No check: every request passes.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Requests must carry [`HEADER`] equal to `value`.
    pub fn new(value: SecretString) -> Result<Self, ConfigError> {
        if value.expose_secret().trim().is_empty() {
            return Err(ConfigError::Invalid {
                name: HEADER.into(),
                reason: "the expected origin header value is empty".into(),
            });
        }
        Ok(Self {
            expected: Some(Arc::new(value)),
        })
    }

    /// From `ORIGIN_VERIFY_SECRET_ARN` (Secrets Manager), else `ORIGIN_VERIFY_SECRET`, else off.
    pub async fn from_env(env: &impl Env, secrets: &SecretSource) -> Result<Self, ConfigError> {
        if let Some(arn) = env.optional(SECRET_ARN_VAR) {
            let value = secrets.get(&arn).await?;
            return Self::new(value).map_err(|_| ConfigError::Secret {
                arn,
                reason: "the origin verification secret is empty".into(),
            });
        }
        match env.optional(SECRET_VAR) {
            Some(value) => Self::new(SecretString::from(value)),
            None => Ok(Self::disabled()),
        }
    }

    /// `router` behind the check. A layer on the whole router, its fallback included, so an
    /// unknown path is refused like a known one.
    pub fn around(self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(
            self,
            refuse_unless_admitted,
        ))
    }

    pub fn is_enabled(&self) -> bool {
        self.expected.is_some()
    }

    fn admits(&self, headers: &http::HeaderMap) -> bool {
        let Some(expected) = &self.expected else {
            return true;
        };
        // One value exactly: a repeated header is refused rather than guessed at.
        let mut values = headers.get_all(HEADER).iter();
        match (values.next(), values.next()) {
            // Without an early exit on the first differing byte, so the response time does not
            // tell an attacker how much of a guess was right; only the length (fixed by
            // Terraform) leaks.
            (Some(got), None) => got
                .as_bytes()
                .ct_eq(expected.expose_secret().as_bytes())
                .into(),
            _ => false,
        }
    }
}

async fn refuse_unless_admitted(
    State(check): State<OriginVerify>,
    request: Request,
    next: Next,
) -> Response {
    if check.admits(request.headers()) {
        return next.run(request).await;
    }
    // No value in the log: a wrong guess may be a near miss.
    tracing::info!(
        path = request.uri().path(),
        present = request.headers().contains_key(HEADER),
        "refused: request did not come through the CDN"
    );
    Problem::forbidden(
        "this API is served through its CDN; call the CDN's URL (terraform output api_url)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    const VALUE: &str = "s3cr3t-origin-value-0123456789ab";

    fn app(check: OriginVerify) -> Router {
        let router = Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/api/movies", get(|| async { "[]" }));
        check.around(router)
    }

    fn request(path: &str, header: Option<&str>) -> Request<Body> {
        let mut b = Request::builder().uri(path);
        if let Some(v) = header {
            b = b.header(HEADER, v);
        }
        b.body(Body::empty()).unwrap()
    }

    async fn call(check: &OriginVerify, req: Request<Body>) -> (StatusCode, String, String) {
        let response = app(check.clone()).oneshot(req).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    fn enabled() -> OriginVerify {
        OriginVerify::new(SecretString::from(VALUE.to_owned())).unwrap()
    }

    #[tokio::test]
    async fn the_right_header_passes() {
        let (status, _, body) = call(&enabled(), request("/api/movies", Some(VALUE))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"));
        let (status, _, _) = call(&enabled(), request("/health", Some(VALUE))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_missing_header_is_403_problem_json_on_every_path() {
        for path in ["/api/movies", "/health", "/no/such/route"] {
            let (status, content_type, body) = call(&enabled(), request(path, None)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(content_type, crate::problem::CONTENT_TYPE, "{path}");
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["status"], 403);
            assert_eq!(json["type"], "/problems/forbidden");
        }
    }

    #[tokio::test]
    async fn a_wrong_value_is_refused_and_not_echoed() {
        let near_miss = format!("{}X", &VALUE[..VALUE.len() - 1]);
        for wrong in ["", "nope", near_miss.as_str(), &format!("{VALUE}0")] {
            let (status, _, body) = call(&enabled(), request("/api/movies", Some(wrong))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{wrong:?}");
            assert!(!body.contains(VALUE), "{body}");
        }
    }

    #[tokio::test]
    async fn a_repeated_header_is_refused() {
        let mut req = request("/api/movies", Some(VALUE));
        req.headers_mut()
            .append(HEADER, http::HeaderValue::from_static(VALUE));
        let (status, _, _) = call(&enabled(), req).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn disabled_lets_everything_through() {
        let off = OriginVerify::disabled();
        let (status, _, _) = call(&off, request("/api/movies", None)).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call(&off, request("/health", Some("anything"))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn configuration_from_the_environment() {
        let secrets = SecretSource::new(&[("", "")]);
        let off = OriginVerify::from_env(&[("OTHER", "x")], &secrets)
            .await
            .unwrap();
        assert!(!off.is_enabled());
        let on = OriginVerify::from_env(&[(SECRET_VAR, VALUE)], &secrets)
            .await
            .unwrap();
        assert!(on.is_enabled());
        assert!(!format!("{on:?}").contains(VALUE));
        let (status, _, _) = call(&on, request("/health", Some(VALUE))).await;
        assert_eq!(status, StatusCode::OK);
        assert!(OriginVerify::new(SecretString::from("  ".to_owned())).is_err());
    }
}
