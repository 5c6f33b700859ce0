//! End to end through the local gateway, as a user of `make dev` meets the system: the built
//! `local-gateway` binary on a free port, the real release builds of the three functions,
//! PostgreSQL, RabbitMQ and moto's Cognito. Each test gets its own databases, user pool and
//! billing queue, so they run in parallel with each other and with `make dev`.
//!
//! The binaries (`local-gateway`, `localaws` and the function bootstraps) come from `cargo build
//! --release` (run once here; the same build `make dev` uses), or from `E2E_BIN_DIR` when set.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use integration_tests::{
    BrokerUsers, TestDb, eventually, pg_host, pg_password, pg_port, pg_user, unique,
};
use serde_json::{Value, json};
use shared::migrate::Database;
use tokio::io::AsyncBufReadExt;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory holding `local-gateway` and the three function bootstraps.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("E2E_BIN_DIR") {
            return PathBuf::from(dir);
        }
        // A release build takes its own lock (target/release), so this works under `cargo test`.
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(root())
                .args(["build", "--release", "-q"])
                .args([
                    "-p",
                    "inventory",
                    "-p",
                    "billing-api",
                    "-p",
                    "billing-consumer",
                    "-p",
                    "local-gateway",
                ])
                .status()
                .expect("run cargo build");
        assert!(
            status.success(),
            "cargo build --release of the functions and the gateway failed"
        );
        root().join("target/release")
    })
}

/// Runs `localaws` (the moto setup `make dev` uses) with a state dir and pool of this test's own.
fn localaws(state: &Path, pool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(bin_dir().join("localaws"))
        .args(args)
        .env("LOCALAWS_STATE_DIR", state)
        .env("LOCALAWS_POOL_NAME", pool)
        .output()
        .expect("run localaws");
    assert!(
        out.status.success(),
        "localaws {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn read_env(path: &Path) -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

/// Stops the gateway with SIGTERM (so it stops its function instances) when the test ends.
struct Gateway {
    pid: u32,
    child: Option<tokio::process::Child>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        if let Some(mut child) = self.child.take() {
            // It stops its `cargo lambda watch` process groups, if any, before exiting.
            for _ in 0..50 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.start_kill();
        }
    }
}

struct Stack {
    url: String,
    port: u16,
    http: reqwest::Client,
    state: PathBuf,
    pool: String,
    cognito: std::collections::HashMap<String, String>,
    _movies: TestDb,
    orders: TestDb,
    _broker: BrokerUsers,
    _gateway: Gateway,
}

impl Stack {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The stack with more variables for the gateway (its config reads them).
    async fn start_with(extra_env: &[(&str, String)]) -> Self {
        let bins = bin_dir();
        let movies = TestDb::new(Database::Movies).await;
        let orders = TestDb::new(Database::Orders).await;
        let state = std::env::temp_dir().join(unique("e2e_gateway"));
        std::fs::create_dir_all(&state).unwrap();
        let pool = unique("e2e-pool");
        localaws(&state, &pool, &["setup"]);
        let cognito = read_env(&state.join("cognito.env"));
        let dlq = read_env(&state.join("sqs.env"));

        // The billing queue of this test, declared by setup's broker step with the two users
        // it creates: billing-api publishes and the mapping consumes with them, as on AWS.
        let broker = BrokerUsers::new("billing_e2e").await;
        let queue = broker.queue.clone();

        let log = std::env::var_os("TEST_LOG").is_some();
        let mut child = tokio::process::Command::new(bins.join("local-gateway"))
            .arg(root().join("local/gateway.yaml"))
            .current_dir(root())
            .env("LOCAL_GATEWAY_PORT", "0")
            .env("FUNCTIONS_DIR", bins)
            .env("OPENAPI", root().join("openapi.yaml"))
            .env("COGNITO_USER_POOL_ID", &cognito["COGNITO_USER_POOL_ID"])
            .env("COGNITO_CLIENT_ID", &cognito["COGNITO_CLIENT_ID"])
            .env(
                "COGNITO_MACHINE_CLIENT_ID",
                &cognito["COGNITO_MACHINE_CLIENT_ID"],
            )
            .env("BILLING_DLQ_URL", &dlq["BILLING_DLQ_URL"])
            .env("BILLING_QUEUE", &queue)
            .env("AMQP_PUBLISHER_URL", broker.publisher_url())
            .env("AMQP_CONSUMER_URL", broker.consumer_url())
            .env("ESM_BATCHING_WINDOW_MS", "100")
            .env("CRUD_PG_HOST", pg_host())
            .env("CRUD_PG_PORT", pg_port().to_string())
            .env("MOVIES_DB", &movies.name)
            .env("MOVIES_DB_USER", pg_user())
            .env("MOVIES_DB_PASSWORD", pg_password())
            .env("ORDERS_DB", &orders.name)
            .env("ORDERS_DB_USER", pg_user())
            .env("ORDERS_DB_PASSWORD", pg_password())
            .env("FUNCTION_LOG", if log { "debug" } else { "warn" })
            .env("GATEWAY_LOG", if log { "debug" } else { "error" })
            .envs(extra_env.iter().map(|(k, v)| (*k, v)))
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("start local-gateway");
        let pid = child.id().unwrap();
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the gateway prints its URL")
            .unwrap()
            .expect("the gateway exited before listening");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL in the first line")
            .to_owned();
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            url,
            port,
            http: reqwest::Client::new(),
            state,
            pool,
            cognito,
            _movies: movies,
            orders,
            _broker: broker,
            _gateway: Gateway {
                pid,
                child: Some(child),
            },
        }
    }

    fn token(&self, user: &str) -> String {
        localaws(&self.state, &self.pool, &["token", user])
    }

    /// A client-credentials token of the local machine client, as `make machine-token` gives.
    fn machine_token(&self, scopes: &[&str]) -> String {
        let mut args = vec!["machine-token"];
        args.extend_from_slice(scopes);
        localaws(&self.state, &self.pool, &args)
    }

    /// moto signs every pool's tokens with one key that ships inside moto: with it we can make
    /// tokens whose signature is right and whose claims are whatever a test needs.
    fn moto_key(&self) -> PathBuf {
        let path = self.state.join("moto-key.pem");
        let pem = localaws(&self.state, &self.pool, &["signing-key"]);
        std::fs::write(&path, pem).unwrap();
        path
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    fn make(&self, target: &str) {
        let status = std::process::Command::new("make")
            .current_dir(root())
            .args(["-s", target, &format!("LOCAL_GATEWAY_PORT={}", self.port)])
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "make {target}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

/// A copy of the workspace sources (no target/, .local/, .git/) at a fixed place, so the
/// watchers' builds there are incremental from one run to the next. tar keeps modification
/// times, so only what a test changed (and touches) rebuilds.
fn scratch_workspace() -> PathBuf {
    let scratch = root().join("target/watch-test/src");
    std::fs::create_dir_all(&scratch).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "tar -C \"$1\" --exclude=./target --exclude=./.local --exclude=./.git -cf - . \
             | tar -C \"$2\" -xf -",
        )
        .args(["sh", root().to_str().unwrap(), scratch.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "copying the workspace to {scratch:?}");
    scratch
}

/// The watchers' target directory: seeded once with hard links to target/debug's compiled
/// dependencies (cargo writes new files, never into old ones), so only the workspace crates
/// build, not the whole dependency tree. Never target/debug itself: `cargo test` holds it.
fn watch_target_dir() -> PathBuf {
    let dir = root().join("target/watch-test/target");
    let debug = dir.join("debug");
    if !debug.exists() {
        std::fs::create_dir_all(&debug).unwrap();
        for sub in ["deps", "build", ".fingerprint"] {
            let from = root().join("target/debug").join(sub);
            if from.exists() {
                let _ = std::process::Command::new("cp")
                    .args(["-al"])
                    .arg(&from)
                    .arg(&debug)
                    .status();
            }
        }
    }
    dir
}

/// Three consecutive free ports for the watchers (function i listens on base + i).
fn free_port_run() -> u16 {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = first.local_addr().unwrap().port();
        drop(first);
        if base < 65000
            && (0..3).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok())
        {
            return base;
        }
    }
    panic!("no three consecutive free ports");
}

/// `make dev WATCH=1`: the same gateway (routes, JWT authorizer, event source mapping) in front
/// of `cargo lambda watch`. A saved change in a function's source is live at the next requests,
/// and the billing mapping still delivers.
#[tokio::test]
async fn watch_mode_rebuilds_a_saved_change_and_billing_still_delivers() {
    let scratch = scratch_workspace();
    let routes = scratch.join("functions/inventory/src/routes.rs");
    let before = "movie {} does not exist";
    let after = "movie {} is in no catalogue (rebuilt)";
    let source = std::fs::read_to_string(&routes).unwrap();
    assert!(source.contains(before), "the 404 text this test changes");
    // The previous run's edit was undone by the copy with an older time: touch, so cargo
    // rebuilds from what is on disk now.
    std::fs::write(&routes, &source).unwrap();

    let s = Stack::start_with(&[
        ("FUNCTIONS_WATCH", "true".into()),
        ("WATCH_WORKSPACE", scratch.display().to_string()),
        ("WATCH_BASE_PORT", free_port_run().to_string()),
        ("CARGO_TARGET_DIR", watch_target_dir().display().to_string()),
        // The first run on a machine may build every dependency in debug (2 cores: minutes).
        ("WATCH_BUILD_BUDGET_SECS", "900".into()),
    ])
    .await;
    let user = s.token("user");
    let missing = "/api/movies/987654321";

    // The first requests wait for the first builds (bounded by the build budget).
    let started = std::time::Instant::now();
    let (status, health) = s.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{health}");
    let (status, problem) = s.call("GET", missing, Some(&user), None).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["detail"], "movie 987654321 does not exist");
    let (status, _) = s.call("GET", missing, None, None).await;
    assert_eq!(status, 401, "the JWT authorizer still stands in front");
    eprintln!("watch mode: first answers after {:?}", started.elapsed());

    // Save a one-line change: the next requests see it, through the gateway, with the JWT.
    std::fs::write(&routes, source.replace(before, after)).unwrap();
    let saved = std::time::Instant::now();
    eventually(Duration::from_secs(300), "the rebuilt inventory", || {
        let s = &s;
        let user = &user;
        async move {
            let (status, problem) = s.call("GET", missing, Some(user), None).await;
            // Requests during the rebuild wait for it or get the old build: never an error.
            assert_eq!(status, 404, "during the rebuild: {problem}");
            (problem["detail"] == "movie 987654321 is in no catalogue (rebuilt)").then_some(())
        }
    })
    .await;
    eprintln!(
        "watch mode: the change was live {:?} after the save",
        saved.elapsed()
    );

    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let (status, queued) = s
        .call("POST", "/api/billing", Some(&user), Some(order))
        .await;
    assert_eq!(status, 200, "{queued}");
    let id = queued["message_id"].as_str().unwrap().to_owned();
    let path = format!("/api/billing/orders/{id}");
    eventually(Duration::from_secs(120), "the order consumed", || async {
        let (status, _) = s.call("GET", &path, Some(&user), None).await;
        (status == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn every_route_answers_through_the_gateway_with_a_user_token() {
    let s = Stack::start().await;
    let user = s.token("user");

    let (status, health) = s.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{health}");

    let (status, created) = s
        .call(
            "POST",
            "/api/movies",
            Some(&user),
            Some(json!({"title": "Alien", "description": "1979"})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_i64().expect("the created movie has an id");
    assert_eq!(created["title"], "Alien");

    let (status, list) = s.call("GET", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 200, "{list}");
    assert!(list.as_array().unwrap().iter().any(|m| m["id"] == id));
    let (status, found) = s
        .call("GET", "/api/movies?title=ali", Some(&user), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");

    let (status, movie) = s
        .call("GET", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!((status, &movie["title"]), (200, &json!("Alien")));
    let (status, updated) = s
        .call(
            "PUT",
            &format!("/api/movies/{id}"),
            Some(&user),
            Some(json!({"description": "Ridley Scott"})),
        )
        .await;
    assert_eq!(
        (status, &updated["description"]),
        (200, &json!("Ridley Scott")),
        "{updated}"
    );
    let (status, deleted) = s
        .call("DELETE", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!((status, &deleted["id"]), (200, &json!(id)));
    let (status, _) = s
        .call("GET", &format!("/api/movies/{id}"), Some(&user), None)
        .await;
    assert_eq!(status, 404);

    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let (status, queued) = s
        .call("POST", "/api/billing", Some(&user), Some(order))
        .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["status"], "queued");
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let stored = eventually(
        Duration::from_secs(30),
        "the order to be stored",
        || async {
            let (status, body) = s
                .call(
                    "GET",
                    &format!("/api/billing/orders/{message_id}"),
                    Some(&user),
                    None,
                )
                .await;
            (status == 200).then_some(body)
        },
    )
    .await;
    assert_eq!(stored["message_id"], message_id);

    // API Gateway's own answer for a route openapi.yaml does not have.
    let (status, body) = s.call("GET", "/api/nope", Some(&user), None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}

#[tokio::test]
async fn deleting_every_movie_needs_the_admin_group() {
    let s = Stack::start().await;
    let (user, admin) = (s.token("user"), s.token("admin"));
    for title in ["A", "B"] {
        let (status, _) = s
            .call(
                "POST",
                "/api/movies",
                Some(&user),
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, body) = s.call("DELETE", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = s.call("DELETE", "/api/movies", Some(&admin), None).await;
    assert_eq!((status, body), (200, json!({"deleted": 2})));
}

/// Signs `header.claims` with openssl: RS256 with a PEM key, HS256 with a secret, or nothing.
enum Sig<'a> {
    Rsa(&'a Path),
    Hmac(&'a str),
    Unsigned,
}

fn forge(header: &Value, claims: &Value, sig: Sig) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let args: Vec<String> = match sig {
        Sig::Unsigned => return format!("{input}."),
        Sig::Rsa(key) => vec!["-sign".into(), key.display().to_string()],
        Sig::Hmac(secret) => vec!["-hmac".into(), secret.into()],
    };
    let mut child = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    format!("{input}.{}", B64URL.encode(out.stdout))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_with_www_authenticate() {
    let s = Stack::start().await;
    let real = s.token("user");
    let claims: Value =
        serde_json::from_slice(&B64URL.decode(real.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let header: Value =
        serde_json::from_slice(&B64URL.decode(real.split('.').next().unwrap()).unwrap()).unwrap();

    // Validly signed tokens with wrong claims.
    let moto_key = s.moto_key();
    let other_key = s.state.join("other-key.pem");
    let status = std::process::Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&other_key)
        .arg("2048")
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    let resigned = forge(&header, &claims, Sig::Rsa(&moto_key));
    let (status, _) = s.call("GET", "/api/movies", Some(&resigned), None).await;
    assert_eq!(
        status, 200,
        "a token re-signed with the pool's key is valid: the forgery works"
    );

    let with = |key: &str, value: Value| {
        let mut c = claims.clone();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(key);
        } else {
            c[key] = value;
        }
        forge(&header, &c, Sig::Rsa(&moto_key))
    };
    let client = s.cognito["COGNITO_CLIENT_ID"].clone();
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("not.a.jwt".into())),
        ("garbage", Some("abc".into())),
        (
            "alg none",
            Some(forge(
                &json!({"alg": "none", "kid": "dummy"}),
                &claims,
                Sig::Unsigned,
            )),
        ),
        (
            "HS256",
            Some(forge(
                &json!({"alg": "HS256", "kid": "dummy", "typ": "JWT"}),
                &claims,
                Sig::Hmac(&client),
            )),
        ),
        (
            "another key",
            Some(forge(&header, &claims, Sig::Rsa(&other_key))),
        ),
        (
            "unknown kid",
            Some(forge(
                &json!({"alg": "RS256", "kid": "rotated"}),
                &claims,
                Sig::Rsa(&other_key),
            )),
        ),
        ("expired", Some(with("exp", json!(now() - 300)))),
        ("not yet valid", Some(with("nbf", json!(now() + 600)))),
        (
            "wrong issuer",
            Some(with(
                "iss",
                json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
            )),
        ),
        (
            "wrong client",
            Some(with("client_id", json!("some-other-client"))),
        ),
        ("tampered", Some(format!("{}x", &real[..real.len() - 1]))),
    ];
    for (why, token) in cases {
        let mut req = s.http.get(format!("{}/api/movies", s.url));
        if let Some(t) = &token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{why}");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .unwrap_or_else(|| panic!("{why}: no WWW-Authenticate"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.starts_with("Bearer"), "{why}: {challenge}");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Unauthorized"}),
            "{why}"
        );
    }
}

#[tokio::test]
async fn billing_survives_a_paused_consumer() {
    let s = Stack::start().await;
    let user = s.token("user");
    s.make("billing-pause");
    let order = json!({"user_id": "7", "number_of_items": 2, "total_amount": "19.90"});
    let (status, queued) = s
        .call("POST", "/api/billing", Some(&user), Some(order))
        .await;
    assert_eq!(
        status, 200,
        "the order is accepted while billing is paused: {queued}"
    );
    let message_id = queued["message_id"].as_str().unwrap().to_owned();
    let path = format!("/api/billing/orders/{message_id}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = s.call("GET", &path, Some(&user), None).await;
    assert_eq!(
        status, 404,
        "not stored while the event source mapping is disabled"
    );

    s.make("billing-resume");
    let stored = eventually(
        Duration::from_secs(30),
        "the order to be stored after resume",
        || async {
            let (status, body) = s.call("GET", &path, Some(&user), None).await;
            (status == 200).then_some(body)
        },
    )
    .await;
    assert_eq!(stored["message_id"], message_id);
}

fn claims_of(token: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        serde_json::from_slice(&B64URL.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
    };
    (part(0), part(1))
}

/// The route's scopes are the gateway's business (403 `{"message":"Forbidden"}`, as API
/// Gateway answers); the admin rule is the function's (403 problem+json).
#[tokio::test]
async fn admin_is_the_admin_group_or_the_machine_clients_exact_admin_scope() {
    let s = Stack::start().await;
    let user = s.token("user");
    let add = |token: String| {
        let s = &s;
        async move {
            let (status, body) = s
                .call(
                    "POST",
                    "/api/movies",
                    Some(&token),
                    Some(json!({"title": "X"})),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        }
    };

    // A machine token with only the read scope reads, and cannot write.
    let reader = s.machine_token(&["movies.read"]);
    let (status, _) = s.call("GET", "/api/movies", Some(&reader), None).await;
    assert_eq!(status, 200);
    let (status, body) = s
        .call(
            "POST",
            "/api/movies",
            Some(&reader),
            Some(json!({"title": "X"})),
        )
        .await;
    assert_eq!((status, body), (403, json!({"message": "Forbidden"})));
    let (status, _) = s.call("DELETE", "/api/movies", Some(&reader), None).await;
    assert_eq!(status, 403);

    // An id token has no scope: refused as API Gateway refuses a token without the route's scopes.
    let id = localaws(&s.state, &s.pool, &["token", "admin", "--id"]);
    for (method, path) in [("GET", "/api/movies"), ("DELETE", "/api/movies")] {
        let resp = s
            .http
            .request(method.parse().unwrap(), format!("{}{path}", s.url))
            .header("authorization", format!("Bearer {id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"message": "Forbidden"})
        );
    }

    // Tokens Cognito would never issue, validly signed with the pool's key: each passes the
    // gateway (it carries one of the route's scopes) and the function refuses it.
    let key = s.moto_key();
    let (header, user_claims) = claims_of(&user);
    let machine_id = s.cognito["COGNITO_MACHINE_CLIENT_ID"].clone();
    let (_, machine_claims) = claims_of(&s.machine_token(&["movies.admin"]));
    let forged = |base: &Value, scope: &str| {
        let mut c = base.clone();
        c["scope"] = json!(scope);
        forge(&header, &c, Sig::Rsa(&key))
    };
    add(user.clone()).await;
    for (why, token) in [
        (
            "the user client with the admin scope",
            forged(
                &user_claims,
                "aws.cognito.signin.user.admin crud-master/movies.admin",
            ),
        ),
        (
            "a bare admin scope",
            forged(&machine_claims, "aws.cognito.signin.user.admin admin"),
        ),
        (
            "a suffix of the admin scope",
            forged(
                &machine_claims,
                "aws.cognito.signin.user.admin movies.admin",
            ),
        ),
        (
            "another resource server's admin scope",
            forged(
                &machine_claims,
                "aws.cognito.signin.user.admin other/movies.admin",
            ),
        ),
    ] {
        let (status, body) = s.call("DELETE", "/api/movies", Some(&token), None).await;
        assert_eq!(status, 403, "{why}: {body}");
        assert_eq!(
            body["type"], "/problems/forbidden",
            "{why}: the function refused it"
        );
    }
    let (status, list) = s.call("GET", "/api/movies", Some(&user), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was deleted");

    // The machine client with the exact admin scope, and a member of the admin group.
    let machine_admin = s.machine_token(&["movies.admin"]);
    assert_eq!(claims_of(&machine_admin).1["client_id"], machine_id);
    let (status, body) = s
        .call("DELETE", "/api/movies", Some(&machine_admin), None)
        .await;
    assert_eq!((status, body), (200, json!({"deleted": 1})));
    add(user.clone()).await;
    let (status, body) = s
        .call("DELETE", "/api/movies", Some(&s.token("admin")), None)
        .await;
    assert_eq!((status, body), (200, json!({"deleted": 1})));
}

/// The crud-master audit, word for word: its URLs (trailing slash included), its bodies (numbers
/// as strings) and its resilience step (billing consumer off, orders wait, consumer on, orders
/// stored), against the same platform `make dev` runs. The orders table is read directly, as the
/// auditor does.
#[tokio::test]
async fn the_crud_master_audit_passes_with_its_literal_urls_and_bodies() {
    let s = Stack::start().await;
    let token = s.token("user");
    let t = Some(token.as_str());

    // Inventory API.
    let (status, created) = s
        .call(
            "POST",
            "/api/movies/",
            t,
            Some(json!({"title": "A new movie", "description": "Very short description"})),
        )
        .await;
    assert_eq!(status, 200, "POST /api/movies/: {created}");
    assert_eq!(
        (&created["title"], &created["description"]),
        (&json!("A new movie"), &json!("Very short description"))
    );
    let id = created["id"].as_i64().unwrap();

    let (status, list) = s.call("GET", "/api/movies/", t, None).await;
    assert_eq!(status, 200, "GET /api/movies/: {list}");
    assert_eq!(list, json!([created]), "the new movie, and only it");
    let (status, found) = s.call("GET", "/api/movies/?title=new", t, None).await;
    assert_eq!((status, found), (200, json!([created])));
    let (status, one) = s.call("GET", &format!("/api/movies/{id}/"), t, None).await;
    assert_eq!((status, one), (200, created.clone()));
    let (status, updated) = s
        .call(
            "PUT",
            &format!("/api/movies/{id}/"),
            t,
            Some(json!({"title": "A new movie", "description": "A longer description now"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["description"], "A longer description now");
    let (status, deleted) = s
        .call("DELETE", &format!("/api/movies/{id}/"), t, None)
        .await;
    assert_eq!((status, &deleted["id"]), (200, &json!(id)));
    let (status, gone) = s.call("GET", &format!("/api/movies/{id}"), t, None).await;
    assert_eq!(status, 404, "{gone}");
    let (status, _) = s
        .call(
            "POST",
            "/api/movies/",
            t,
            Some(json!({"title": "Another movie"})),
        )
        .await;
    assert_eq!(status, 200);
    let admin = s.token("admin");
    let (status, wiped) = s.call("DELETE", "/api/movies/", Some(&admin), None).await;
    assert_eq!((status, wiped), (200, json!({"deleted": 1})));

    // Billing API: an order from the audit, stored by the consumer.
    let first = json!({"user_id": "20", "number_of_items": "99", "total_amount": "250"});
    let (status, queued) = s.call("POST", "/api/billing/", t, Some(first)).await;
    assert_eq!(
        (status, &queued["status"]),
        (200, &json!("queued")),
        "{queued}"
    );
    let orders = s.orders.client().await;
    let stored = |user_id: i64| {
        let orders = &orders;
        async move {
            let row = orders
                .query_opt(
                    "SELECT number_of_items, total_amount::text FROM orders WHERE user_id = $1",
                    &[&user_id],
                )
                .await
                .unwrap();
            row.map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
        }
    };
    let row = eventually(Duration::from_secs(30), "order of user 20 stored", || {
        stored(20)
    })
    .await;
    assert_eq!(row, (99, "250.00".to_owned()));

    // Resilience: the billing consumer is off, the order is still accepted and waits in the
    // queue; once the consumer is back, it is stored.
    s.make("billing-pause");
    let second = json!({"user_id": "22", "number_of_items": "10", "total_amount": "50"});
    let (status, queued) = s.call("POST", "/api/billing/", t, Some(second)).await;
    assert_eq!(status, 200, "accepted while the consumer is off: {queued}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stored(22).await,
        None,
        "not stored while the consumer is off"
    );
    s.make("billing-resume");
    let row = eventually(Duration::from_secs(30), "order of user 22 stored", || {
        stored(22)
    })
    .await;
    assert_eq!(row, (10, "50.00".to_owned()));
    let count: i64 = orders
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2, "each order stored once");

    // One slash only: what API Gateway does not route, the local gateway does not either.
    let (status, body) = s.call("GET", "/api/movies//", t, None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}
