//! The gateway end to end with a test-only function: routing, the JWT authorizer against a
//! locally served JWKS (every way a token can be wrong), payload 2.0 both ways, the Lambda API.
//! This file holds what the topics share: the keys, the JWKS server and the started gateway.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod jwks;
mod lambda_api;
mod local_apis;
mod routing;
mod tokens;
mod web;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use bytes::Bytes;
use http_body_util::Full;
use integration_tests::bad_tokens::{Forge, assert_all_unauthorized};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use local_gateway::authorizer::{AuthError, Authorizer, AuthorizerConfig};
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
    stack_configured(configure, |_| {}).await
}

async fn stack_configured(
    configure: impl FnOnce(&mut FunctionConfig),
    configure_gateway: impl FnOnce(&mut GatewayConfig),
) -> Stack {
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
        web: None,
    };
    let mut cfg = cfg;
    configure_gateway(&mut cfg);
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
    /// `method path` on the gateway, with `token` as the bearer when given.
    fn to(&self, method: &str, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.gw.url()));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.to("GET", path, token).send().await.unwrap()
    }

    /// The JSON body of `GET path` (no token).
    async fn get_json(&self, path: &str) -> Value {
        self.get(path, None).await.json().await.unwrap()
    }
}
