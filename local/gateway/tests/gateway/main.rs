//! The gateway end to end with a test-only function: routing, the JWT authorizer against a
//! locally served JWKS (every way a token can be wrong), payload 2.0 both ways, the Invoke API.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use http_body_util::Full;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use local_gateway::authorizer::{AuthError, Authorizer, AuthorizerConfig};
use local_gateway::bad_tokens::{Forge, assert_all_unauthorized};
use local_gateway::{FunctionConfig, GatewayConfig, RunningGateway};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_LocalTest";
const CLIENT: &str = "client-allowed";

fn issuer() -> String {
    format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}")
}

/// An RSA key pair made with the openssl CLI: the private PEM and the JWK of its public half.
struct Rsa {
    pem: Vec<u8>,
    n: String,
}

fn rsa() -> Rsa {
    let out = std::process::Command::new("openssl")
        .args(["genrsa", "-traditional", "2048"])
        .stderr(std::process::Stdio::null())
        .output()
        .expect("openssl is installed");
    assert!(out.status.success());
    let pem = out.stdout;
    let mut modulus = std::process::Command::new("openssl")
        .args(["rsa", "-noout", "-modulus"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    modulus.stdin.take().unwrap().write_all(&pem).unwrap();
    let out = modulus.wait_with_output().unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Rsa {
        pem,
        n: B64URL.encode(bytes),
    }
}

fn jwk(kid: &str, key: &Rsa) -> Value {
    json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": key.n, "e": "AQAB"})
}

struct Jwks {
    url: String,
    body: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    /// [`SERVE`], [`HANG`] (never answers) or [`FAIL`] (500).
    mode: Arc<AtomicU8>,
}

const SERVE: u8 = 0;
const HANG: u8 = 1;
const FAIL: u8 = 2;

async fn serve_jwks(initial: Value) -> Jwks {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(Mutex::new(initial));
    let fetches = Arc::new(AtomicUsize::new(0));
    let mode = Arc::new(AtomicU8::new(SERVE));
    let (b, f, m) = (body.clone(), fetches.clone(), mode.clone());
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (b, f, m) = (b.clone(), f.clone(), m.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |_req| {
                    f.fetch_add(1, Ordering::SeqCst);
                    let text = b.lock().unwrap().to_string();
                    let mode = m.load(Ordering::SeqCst);
                    async move {
                        if mode == HANG {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        let mut resp = hyper::Response::new(Full::new(Bytes::from(text)));
                        if mode == FAIL {
                            *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Jwks {
        url: format!("http://{addr}/{POOL}/.well-known/jwks.json"),
        body,
        fetches,
        mode,
    }
}

struct Stack {
    gw: RunningGateway,
    http: reqwest::Client,
    key: Rsa,
    jwks: Jwks,
}

async fn stack() -> Stack {
    stack_with(|_| {}).await
}

async fn stack_with(configure: impl FnOnce(&mut FunctionConfig)) -> Stack {
    let key = rsa();
    let jwks = serve_jwks(json!({"keys": [jwk("k1", &key)]})).await;
    let mut echo = FunctionConfig::new(
        "echo",
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/echo-bootstrap.py"
        ),
    );
    echo.forward_logs = std::env::var_os("TEST_LOG").is_some();
    echo.timeout = Duration::from_secs(2);
    configure(&mut echo);
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        openapi: concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openapi.yaml").into(),
        api_id: "test".into(),
        authorizer: AuthorizerConfig {
            issuer: issuer(),
            jwks_url: jwks.url.clone(),
            audiences: vec![CLIENT.into(), "second-client".into()],
            leeway_secs: 30,
            jwks_min_refresh: Duration::from_millis(0),
            jwks_failure_ttl: Duration::from_secs(5),
            jwks_timeout: Duration::from_secs(3),
        },
        functions: vec![echo],
        event_source_mappings: vec![],
        watch: None,
    };
    Stack {
        gw: local_gateway::start(cfg).await.unwrap(),
        http: reqwest::Client::new(),
        key,
        jwks,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims shaped like a Cognito access token from InitiateAuth.
fn access_claims() -> Value {
    json!({
        "sub": "6f0f5a4e-1111-2222-3333-444455556666",
        "iss": issuer(),
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "cognito:groups": ["admin", "user"],
        "username": "admin",
        "iat": now(),
        "auth_time": now(),
        "exp": now() + 3600,
        "jti": "j1",
    })
}

fn sign(kid: &str, key: &Rsa, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&key.pem).unwrap(),
    )
    .unwrap()
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(key);
    } else {
        claims[key] = value;
    }
    claims
}

impl Stack {
    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.gw.url()));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.send().await.unwrap()
    }
}

#[tokio::test]
async fn routes_claims_and_the_event_reach_the_function() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());

    let resp = s.get("/health", None).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("apigw-requestid"));
    assert_eq!(resp.headers()["set-cookie"], "seen=1");
    let body: Value = resp.json().await.unwrap();
    assert!(body["event"]["requestContext"].get("authorizer").is_none());
    assert_eq!(body["event"]["routeKey"], "GET /health");

    let resp = s
        .http
        .get(format!("{}/api/movies/42?title=a%20b&x=1&x=2", s.gw.url()))
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", "a=1; b=2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let event = resp.json::<Value>().await.unwrap()["event"].clone();
    let typed: aws_lambda_events::apigw::ApiGatewayV2httpRequest =
        serde_json::from_value(event.clone()).unwrap();
    assert_eq!(typed.route_key.as_deref(), Some("GET /api/movies/{id}"));
    assert_eq!(typed.path_parameters["id"], "42");
    assert_eq!(typed.query_string_parameters.first("title"), Some("a b"));
    assert_eq!(event["queryStringParameters"]["x"], "1,2");
    assert_eq!(typed.cookies, Some(vec!["a=1".into(), "b=2".into()]));
    assert_eq!(typed.request_context.stage.as_deref(), Some("$default"));
    assert_eq!(typed.request_context.apiid.as_deref(), Some("test"));
    let jwt = typed.request_context.authorizer.unwrap().jwt.unwrap();
    assert_eq!(jwt.claims["cognito:groups"], "[admin user]");
    assert_eq!(jwt.claims["client_id"], CLIENT);
    assert!(jwt.claims["exp"].parse::<i64>().is_ok());
    let ms = event["requestContext"]["timeEpoch"].as_i64().unwrap();
    assert!((ms / 1000 - now()).abs() < 5, "timeEpoch is milliseconds");

    // A binary body arrives base64-encoded; JSON arrives as text.
    let resp = s
        .http
        .post(format!("{}/api/movies", s.gw.url()))
        .header("authorization", &token)
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 255, 1])
        .send()
        .await
        .unwrap();
    let event = resp.json::<Value>().await.unwrap()["event"].clone();
    assert_eq!(event["isBase64Encoded"], true);
    assert_eq!(event["body"], "AP8B");

    // An id token: `aud` instead of `client_id`.
    let id = with(
        with(access_claims(), "client_id", Value::Null),
        "aud",
        json!("second-client"),
    );
    assert_eq!(
        s.get("/api/movies", Some(&sign("k1", &s.key, &id)))
            .await
            .status(),
        200
    );
    s.gw.shutdown().await;
}

#[tokio::test]
async fn every_bad_token_is_a_401_with_www_authenticate() {
    let s = stack().await;
    let other = rsa();
    let forge = Forge {
        claims: access_claims(),
        kid: "k1",
        key: &s.key.pem,
        other_key: &other.pem,
        // The classic confusion attack: HMAC keyed with the public key material.
        hmac_secret: s.key.n.as_bytes(),
    };
    assert_all_unauthorized(&s.http, &format!("{}/api/movies", s.gw.url()), &forge).await;

    // Within the leeway an expired token still passes, as with API Gateway's small skew.
    let recent = sign("k1", &s.key, &forge.with("exp", json!(now() - 5)));
    assert_eq!(s.get("/api/movies", Some(&recent)).await.status(), 200);

    s.gw.shutdown().await;
}

/// API Gateway's answer to a valid token without any of the route's scopes.
async fn assert_insufficient_scope(s: &Stack, token: &str, why: &str) {
    let resp = s.get("/api/scoped", Some(token)).await;
    assert_eq!(resp.status(), 403, "{why}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer scope="crud/read crud/admin" error="insufficient_scope" error_description="expected scopes: [crud/read crud/admin]""#,
        "{why}"
    );
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Forbidden"}),
        "{why}"
    );
}

#[tokio::test]
async fn a_route_with_scopes_needs_one_of_them_in_the_scope_claim() {
    let s = stack().await;
    let user = access_claims();
    let scoped = |scope: &str| sign("k1", &s.key, &with(user.clone(), "scope", json!(scope)));

    assert_insufficient_scope(&s, &sign("k1", &s.key, &user), "a user token").await;
    // An id token names its client in `aud` and has no `scope` at all: API Gateway cannot
    // tell it from an access token except by the route's scopes.
    let id = with(
        with(
            with(user.clone(), "client_id", Value::Null),
            "scope",
            Value::Null,
        ),
        "aud",
        json!(CLIENT),
    );
    assert_eq!(
        s.get("/api/movies", Some(&sign("k1", &s.key, &id)))
            .await
            .status(),
        200
    );
    assert_insufficient_scope(&s, &sign("k1", &s.key, &id), "an id token").await;
    for scope in [
        "crud/write",
        "admin",
        "crud/read2",
        "crud/readcrud/admin",
        "CRUD/READ",
    ] {
        assert_insufficient_scope(&s, &scoped(scope), scope).await;
    }
    for scope in ["crud/read", "crud/admin", "crud/write crud/read"] {
        assert_eq!(
            s.get("/api/scoped", Some(&scoped(scope))).await.status(),
            200,
            "{scope}"
        );
    }
    s.gw.shutdown().await;
}

#[tokio::test]
async fn keys_are_cached_and_refetched_for_an_unknown_kid() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for _ in 0..3 {
        assert_eq!(s.get("/api/movies", Some(&token)).await.status(), 200);
    }
    assert_eq!(
        s.jwks.fetches.load(Ordering::SeqCst),
        1,
        "the JWKS is cached"
    );
    // The pool rotates: a new key appears under a new kid.
    let rotated = rsa();
    s.jwks.body.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(jwk("k2", &rotated));
    let new_token = sign("k2", &rotated, &access_claims());
    assert_eq!(s.get("/api/movies", Some(&new_token)).await.status(), 200);
    assert_eq!(s.jwks.fetches.load(Ordering::SeqCst), 2);
    s.gw.shutdown().await;
}

#[tokio::test]
async fn unmatched_routes_failures_and_the_invoke_api() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for (method, path) in [
        ("GET", "/nope"),
        ("PATCH", "/api/movies/1"),
        ("GET", "/api/movies/1/x"),
    ] {
        let resp = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.gw.url()))
            .header("authorization", &token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{method} {path}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Not Found"})
        );
    }
    let post = |body: Value| {
        s.http
            .post(format!("{}/api/movies", s.gw.url()))
            .header("authorization", &token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let resp = post(json!({"action": "error"})).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    let resp = post(json!({"action": "sleep", "seconds": 5}))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        500,
        "a function timeout is a Lambda error, as on AWS"
    );
    let resp = post(json!({"action": "crash"})).await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(
        post(json!({})).await.unwrap().status(),
        200,
        "a new instance took over"
    );

    // The Lambda Invoke API, as `aws lambda invoke --endpoint-url` uses it.
    let invoke = |name: &str, body: &'static str| {
        s.http
            .post(format!(
                "{}/2015-03-31/functions/{name}/invocations",
                s.gw.url()
            ))
            .body(body)
            .send()
    };
    let resp = invoke("echo", r#"{"direct":true}"#).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-amz-executed-version"], "$LATEST");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["event"],
        json!({"direct": true})
    );
    let resp = invoke(
        "arn:aws:lambda:us-east-1:123456789012:function:echo",
        r#"{"action":"error"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-amz-function-error"], "Unhandled");
    let resp = invoke("ghost", "{}").await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    let esm: Value = s
        .http
        .get(format!("{}/_local/esm", s.gw.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(esm["EventSourceMappings"], json!([]));
    s.gw.shutdown().await;
}

fn authorizer(jwks: &Jwks, failure_ttl: Duration) -> Arc<Authorizer> {
    Arc::new(Authorizer::new(AuthorizerConfig {
        issuer: issuer(),
        jwks_url: jwks.url.clone(),
        audiences: vec![CLIENT.into()],
        leeway_secs: 30,
        jwks_min_refresh: Duration::ZERO,
        jwks_failure_ttl: failure_ttl,
        jwks_timeout: Duration::from_millis(1500),
    }))
}

/// A token of its own (a distinct `jti`), so no verification is served from memory.
fn fresh_token(kid: &str, key: &Rsa) -> String {
    sign(
        kid,
        key,
        &with(
            access_claims(),
            "jti",
            json!(uuid::Uuid::new_v4().to_string()),
        ),
    )
}

#[tokio::test]
async fn a_hanging_jwks_endpoint_is_fetched_once_and_stalls_no_cached_key() {
    let key = rsa();
    let jwks = serve_jwks(json!({"keys": [jwk("k1", &key)]})).await;
    let auth = authorizer(&jwks, Duration::from_secs(30));
    auth.verify(&fresh_token("k1", &key)).await.unwrap();
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1);

    // The endpoint now accepts connections and never answers. Eight tokens name a kid the
    // cache does not know, at once: one fetch between them, outside the cache's lock.
    jwks.mode.store(HANG, Ordering::SeqCst);
    let rotated = rsa();
    let started = Instant::now();
    let waiting: Vec<_> = (0..8)
        .map(|_| {
            let (auth, token) = (auth.clone(), fresh_token("k2", &rotated));
            tokio::spawn(async move { auth.verify(&token).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cached = tokio::time::timeout(
        Duration::from_millis(500),
        auth.verify(&fresh_token("k1", &key)),
    )
    .await
    .expect("a token whose key is cached does not wait for the hanging fetch");
    assert!(cached.is_ok());
    for w in waiting {
        let refused = w.await.unwrap().unwrap_err();
        assert!(matches!(refused, AuthError::Invalid(_)), "{refused:?}");
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        2,
        "one fetch for the eight"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the eight waited for one fetch's timeout, not one each: {:?}",
        started.elapsed()
    );

    // The failure is remembered: refused at once, without a new fetch.
    let t = Instant::now();
    assert!(auth.verify(&fresh_token("k2", &rotated)).await.is_err());
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_jwks_fetch_is_remembered_for_a_few_seconds_then_retried() {
    let key = rsa();
    let jwks = serve_jwks(json!({"keys": [jwk("k1", &key)]})).await;
    jwks.mode.store(FAIL, Ordering::SeqCst);
    let auth = authorizer(&jwks, Duration::from_millis(500));
    for _ in 0..5 {
        let refused = auth.verify(&fresh_token("k1", &key)).await.unwrap_err();
        assert_eq!(
            refused,
            AuthError::Invalid("the signing keys could not be fetched".into())
        );
    }
    assert_eq!(
        jwks.fetches.load(Ordering::SeqCst),
        1,
        "one fetch, then the failure is remembered"
    );

    jwks.mode.store(SERVE, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(auth.verify(&fresh_token("k1", &key)).await.is_ok());
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);

    // A JWKS endpoint that is down (connection refused) fails the same way.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let down = Jwks {
        url,
        ..serve_jwks(json!({"keys": []})).await
    };
    let auth = authorizer(&down, Duration::from_secs(30));
    let t = Instant::now();
    for _ in 0..3 {
        assert!(auth.verify(&fresh_token("k1", &key)).await.is_err());
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[tokio::test]
async fn the_local_control_apis_answer_only_local_tools() {
    let s = stack().await;
    let port = s.gw.addr.port();
    let send = |path: &str, host: Option<String>, origin: Option<String>| {
        let mut req = if path.starts_with("/_local") {
            s.http.get(format!("{}{path}", s.gw.url()))
        } else {
            s.http.post(format!("{}{path}", s.gw.url())).body("{}")
        };
        if let Some(h) = host {
            req = req.header("host", h);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    for path in ["/_local/esm", "/2015-03-31/functions/echo/invocations"] {
        for host in [
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ] {
            let resp = send(path, Some(host.clone()), None).await.unwrap();
            assert_eq!(resp.status(), 200, "{path} with Host {host}");
        }
        for (host, origin) in [
            (format!("evil.example:{port}"), None),
            (format!("127.0.0.1.nip.io:{port}"), None),
            (
                format!("127.0.0.1:{port}"),
                Some("http://evil.example".to_owned()),
            ),
            (format!("127.0.0.1:{port}"), Some("null".to_owned())),
            (
                format!("127.0.0.1:{port}"),
                Some(format!("http://127.0.0.1:{port}")),
            ),
        ] {
            let resp = send(path, Some(host.clone()), origin.clone())
                .await
                .unwrap();
            assert_eq!(
                resp.status(),
                403,
                "{path} with Host {host}, Origin {origin:?}"
            );
            assert_eq!(resp.headers()["x-amzn-errortype"], "AccessDeniedException");
            assert_eq!(
                resp.json::<Value>().await.unwrap(),
                json!({"message": "Forbidden"})
            );
        }
    }
    // The HTTP API itself is for anyone, browsers included.
    let resp = s
        .http
        .get(format!("{}/health", s.gw.url()))
        .header("origin", "http://evil.example")
        .header("host", "api.example")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.gw.shutdown().await;
}

/// The dashboard's data over real HTTP: requests through the HTTP API become AWS/ApiGateway and
/// AWS/Lambda datapoints under the definition's widgets; the page is served with a CSP and no
/// external script; bad parameters are a 400 problem; a browser's cross-origin request is refused.
#[tokio::test]
async fn the_dashboard_shows_what_the_api_and_the_function_did() {
    let s = stack().await;
    let token = sign("k1", &s.key, &access_claims());
    for _ in 0..5 {
        let r = s
            .http
            .get(format!("{}/api/movies", s.gw.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = s
        .http
        .get(format!("{}/api/movies", s.gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let data: Value = s
        .http
        .get(format!("{}/_local/metrics?range=300&period=60", s.gw.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let series = |title: &str, label: &str| -> f64 {
        let w = data["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["title"] == title)
            .unwrap_or_else(|| panic!("no widget {title}"));
        let m = w["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["label"] == label)
            .unwrap_or_else(|| panic!("no {label} in {title}: {w}"));
        m["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[1].as_f64().unwrap())
            .sum()
    };
    assert_eq!(series("API requests and errors", "requests"), 6.0);
    assert_eq!(series("API requests and errors", "4xx"), 1.0);
    assert_eq!(series("API requests and errors", "5xx"), 0.0);
    assert!(series("API latency (ms)", "p99") > 0.0);
    assert!(series("Lambda duration p99 (ms)", "echo") > 0.0);
    assert_eq!(series("Lambda errors and throttles", "echo errors"), 0.0);
    let alarms = data["alarms"].as_array().unwrap();
    let a5xx = alarms.iter().find(|a| a["name"] == "api-5xx").unwrap();
    assert_eq!(a5xx["state"], "OK");
    assert_eq!(a5xx["threshold"], 5.0);
    assert!(alarms.iter().any(|a| a["name"] == "echo-errors"));

    let page = s
        .http
        .get(format!("{}/_local/dashboard", s.gw.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("connect-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("/_local/metrics"));
    assert!(!html.contains("<script src"), "no external script");

    for q in ["range=5", "range=x", "period=0", "range=999999"] {
        let r = s
            .http
            .get(format!("{}/_local/metrics?{q}", s.gw.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
    }
    let r = s
        .http
        .get(format!("{}/_local/metrics", s.gw.url()))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    s.gw.shutdown().await;
}

/// Over the reserved concurrency with `throttle_wait` zero (Lambda's behaviour), API Gateway
/// answers 500 `{"message":"Internal Server Error"}`: "If the Lambda API rejects the invocation
/// request, API Gateway returns a 500 error code"
/// (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
#[tokio::test]
async fn a_throttled_function_is_a_500_from_api_gateway() {
    let s = stack_with(|f| {
        f.max_concurrency = 1;
        f.throttle_wait = Duration::ZERO;
    })
    .await;
    let token = sign("k1", &s.key, &access_claims());
    let send = || {
        s.http
            .post(format!("{}/api/movies", s.gw.url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(r#"{"action":"sleep","seconds":0.6}"#)
            .send()
    };
    let (a, b) = tokio::join!(send(), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        send().await
    });
    let mut statuses = vec![a.unwrap(), b.unwrap()];
    statuses.sort_by_key(reqwest::Response::status);
    let throttled = statuses.pop().unwrap();
    assert_eq!(statuses[0].status(), 200);
    assert_eq!(throttled.status(), 500);
    assert_eq!(
        throttled.json::<Value>().await.unwrap(),
        json!({"message": "Internal Server Error"})
    );
    s.gw.shutdown().await;
}
