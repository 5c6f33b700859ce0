// Over 500 lines: the one support library all integration tests link; split it by topic if it grows.
//! Shared helpers for the tests that go through the real parts. `make test` starts PostgreSQL,
//! RabbitMQ and moto (scripts/services.sh) and exports where they are; each test then gets its
//! own database (random name, migrated) or queue, so tests run in parallel.

pub mod bad_tokens;
pub mod request;

use settings::ExposeSecret;
use std::time::Duration;

use database::migrate::{self, Database};
use database::{Db, DbSettings};

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with `make test` (or `source .local/env` after `scripts/services.sh up`)")
    })
}

pub fn pg_host() -> String {
    var("CRUD_PG_HOST")
}
pub fn pg_port() -> u16 {
    var("CRUD_PG_PORT").parse().expect("CRUD_PG_PORT is a port")
}
pub fn pg_user() -> String {
    var("CRUD_PG_USER")
}
pub fn pg_password() -> String {
    var("CRUD_PG_PASSWORD")
}
pub fn amqp_url() -> String {
    var("AMQP_URL")
}
/// The broker administrator's user name and password (scripts/services.sh makes them; there is
/// no `guest`).
pub fn amqp_admin() -> (String, String) {
    (var("CRUD_AMQP_ADMIN_USER"), var("CRUD_AMQP_ADMIN_PASSWORD"))
}
pub fn aws_endpoint() -> String {
    var("AWS_ENDPOINT_URL")
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// Settings for database `name` on the test cluster.
pub fn settings(name: &str) -> DbSettings {
    DbSettings::local(&pg_host(), pg_port(), name, &pg_user(), &pg_password())
}

pub async fn connect(name: &str) -> tokio_postgres::Client {
    connect_as(name, &pg_user(), &pg_password())
        .await
        .unwrap_or_else(|e| panic!("connecting to {name}: {e}"))
}

/// One plain connection to database `name` as `user` (the test cluster's superuser, or an
/// application role to check its privileges).
pub async fn connect_as(
    name: &str,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, conn) = DbSettings::local(&pg_host(), pg_port(), name, user, password)
        .pg_config()
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(conn);
    Ok(client)
}

/// The inventory function's Router on `db`, its metrics captured instead of printed.
pub fn inventory_app(db: Db) -> axum::Router {
    inventory::router(inventory::AppState::new(
        db,
        telemetry::metrics::Metrics::capturing("inventory").0,
    ))
}

/// `t_<pid>_<kind>_<uuid>`: the pid of the test process that owns it, so
/// scripts/drop-test-databases.sh drops a database only once its owner has exited and never
/// one a concurrent run is using.
fn test_database_name(kind: &str) -> String {
    unique(&format!("t_{}_{kind}", std::process::id()))
}

/// A fresh, migrated database for one test.
pub struct TestDb {
    pub name: String,
    pub settings: DbSettings,
    pub db: Db,
}

impl TestDb {
    pub async fn new(kind: Database) -> Self {
        settings::install_crypto_provider();
        telemetry::init_for_tests();
        let name = test_database_name(kind.name());
        let admin = connect("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let mut client = connect(&name).await;
        migrate::apply(&mut client, kind).await.expect("migrate");
        let settings = settings(&name);
        let db = Db::new(&settings).expect("pool");
        Self { name, settings, db }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.name).await
    }

    /// A rule validation does not know about: the database refuses orders of 13 items, so a
    /// batch insert containing one fails as a whole.
    pub async fn refuse_thirteen_items(&self) {
        self.client()
            .await
            .batch_execute(
                "ALTER TABLE orders ADD CONSTRAINT no_thirteen CHECK (number_of_items <> 13)",
            )
            .await
            .expect("add the no_thirteen constraint");
    }
}

/// Polls `check` until it returns `Some`, or panics after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `scripts/services.sh <args>` (stop/start PostgreSQL or RabbitMQ for fault tests).
pub fn services(args: &[&str]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let status = std::process::Command::new(format!("{root}/scripts/services.sh"))
        .args(args)
        .status()
        .expect("run scripts/services.sh");
    assert!(status.success(), "scripts/services.sh {args:?} failed");
}

/// A loopback TCP proxy that a test can cut and restore: the network between a function and
/// its database or broker going away, without disturbing the other tests sharing the server.
pub struct Cuttable {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Cuttable {
    pub async fn to(target_port: u16) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = std::sync::Arc::new(tx);
        let (up2, gen2) = (up.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = gen2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            up,
            generation,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The request context API Gateway's JWT authorizer attaches for `username` with
/// `cognito:groups` = `groups` (as the flattened string API Gateway sends, e.g. "[admin user]").
pub fn request_context(username: &str, groups: &str) -> lambda_http::request::RequestContext {
    request_context_for(&format!("sub-{username}"), username, groups)
}

/// Like [`request_context`], with the token subject `sub` given: two users may share a
/// username (one deleted and re-created) but never a `sub`.
pub fn request_context_for(
    sub: &str,
    username: &str,
    groups: &str,
) -> lambda_http::request::RequestContext {
    crate::request::request_context(crate::request::user_claims(sub, username, Some(groups)))
}

/// A response read back for assertions: status, headers and the body as JSON (or Null).
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: serde_json::Value,
}

impl Reply {
    pub async fn from(response: axum::response::Response) -> Self {
        use http_body_util::BodyExt;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("read body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Self {
            status,
            headers,
            json,
        }
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json answer with this status.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "body: {}", self.json);
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.json["status"], status, "body: {}", self.json);
        assert!(self.json["title"].is_string());
    }
}

/// Sends one request to a Router in-process (no socket), as `username` in `groups`
/// (or anonymously when `as_user` is None).
pub async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    as_user: Option<(&str, &str)>,
) -> Reply {
    let context = as_user.map(|(user, groups)| request_context(user, groups));
    call_with(router, method, uri, body, &[], context).await
}

/// Like [`call`], with extra request headers and the authorizer's request context given.
pub async fn call_with(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    headers: &[(&str, &[u8])],
    context: Option<lambda_http::request::RequestContext>,
) -> Reply {
    let request = crate::request::request(method, uri, body.map(str::to_owned), headers, context)
        .expect("a valid request");
    Reply::from(crate::request::oneshot(router, request).await).await
}

/// Callers as `make dev` has them: `user` is an editor (the default), `viewer` only reads.
pub const USER: Option<(&str, &str)> = Some(("user", "[editors]"));
pub const ADMIN: Option<(&str, &str)> = Some(("admin", "[admin editors]"));
pub const VIEWER: Option<(&str, &str)> = Some(("viewer", "[]"));

/// A loopback TCP forwarder to `target_port` that records what clients send: a test checks
/// what went over the wire (a password must not) and can open it late, on a port chosen
/// beforehand, to play a server that does not accept connections yet.
pub struct Forwarder {
    pub port: u16,
    sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Forwarder {
    /// Listens on `port` (0: any free port) and forwards every connection to `target_port`.
    pub async fn start(port: u16, target_port: u16) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind forwarder");
        let port = listener.local_addr().expect("addr").port();
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = sent.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let Ok(outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.into_split();
                    let (mut from_server, mut to_server) = outbound.into_split();
                    let upstream = async move {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match from_client.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            record.lock().expect("record").extend_from_slice(&buf[..n]);
                            if to_server.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_server.shutdown().await;
                    };
                    let downstream = async move {
                        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                        let _ = to_client.shutdown().await;
                    };
                    tokio::join!(upstream, downstream);
                });
            }
        });
        Self { port, sent }
    }

    /// Everything clients sent so far.
    pub fn sent(&self) -> Vec<u8> {
        self.sent.lock().expect("record").clone()
    }
}

/// A loopback port that is free now (nothing listens on it until a test starts something there).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The local RabbitMQ management API (scripts/services.sh) and its administrator.
pub fn rabbit_management_url() -> String {
    var("CRUD_RABBIT_MGMT_URL")
}
pub fn amqp_port() -> u16 {
    var("CRUD_AMQP_PORT")
        .parse()
        .expect("CRUD_AMQP_PORT is a port")
}

/// A queue of a test's own and the two least-privilege broker users setup creates for it
/// (`setup::setup_broker`: topology as the administrator, then the users through the
/// management API), as billing-api and the event source mapping use them on AWS.
pub struct BrokerUsers {
    pub queue: String,
    pub management: setup::broker::Management,
    pub publisher: settings::Credentials,
    pub consumer: settings::Credentials,
}

fn credentials(username: &str, password: &str) -> settings::Credentials {
    settings::Credentials {
        username: username.into(),
        password: settings::SecretString::from(password),
    }
}

impl BrokerUsers {
    /// A fresh queue named `queue_prefix_<random>` and fresh users for it.
    pub async fn new(queue_prefix: &str) -> Self {
        settings::install_crypto_provider();
        telemetry::init_for_tests();
        let users = Self {
            queue: unique(queue_prefix),
            management: setup::broker::Management {
                url: rabbit_management_url(),
                admin: {
                    let (user, password) = amqp_admin();
                    credentials(&user, &password)
                },
                earlier_admins: Vec::new(),
                vhost: "/".into(),
                timeout: Duration::from_secs(10),
            },
            publisher: credentials(&unique("publisher"), "publisher-Pw-1"),
            consumer: credentials(&unique("consumer"), "consumer-Pw-1"),
        };
        users.setup().await;
        users
    }

    /// What setup does on the broker, again (after a password change, say).
    pub async fn setup(&self) {
        use setup::broker::{BrokerUser, Role};
        let broker = setup::BrokerSetup {
            amqp: broker::AmqpSettings::local(&amqp_url(), &self.queue),
            management: Some(self.management.clone()),
            users: vec![
                BrokerUser {
                    credentials: self.publisher.clone(),
                    role: Role::Publisher,
                },
                BrokerUser {
                    credentials: self.consumer.clone(),
                    role: Role::Consumer,
                },
            ],
        };
        let backoff = setup::retry::Backoff::new(Duration::from_secs(10));
        let (queue, names) = setup::setup_broker(&broker, &backoff)
            .await
            .expect("setup's broker step");
        assert_eq!(queue, self.queue);
        assert_eq!(
            names,
            [
                self.publisher.username.clone(),
                self.consumer.username.clone()
            ]
        );
    }

    fn url(&self, c: &settings::Credentials) -> String {
        format!(
            "amqp://{}:{}@127.0.0.1:{}/%2f",
            c.username,
            c.password.expose_secret(),
            amqp_port()
        )
    }

    pub fn publisher_url(&self) -> String {
        self.url(&self.publisher)
    }

    pub fn consumer_url(&self) -> String {
        self.url(&self.consumer)
    }

    /// Deletes the two users and the queue's dead-letter policy (best effort; the queue is
    /// the caller's).
    pub async fn cleanup(&self) {
        let http = reqwest::Client::new();
        let (admin, password) = amqp_admin();
        let policy = setup::broker::dead_letter_policy_name(&self.queue);
        for path in [
            format!("/api/users/{}", self.publisher.username),
            format!("/api/users/{}", self.consumer.username),
            format!("/api/policies/%2F/{policy}"),
        ] {
            let _ = http
                .delete(format!("{}{path}", self.management.url))
                .basic_auth(&admin, Some(&password))
                .send()
                .await;
        }
    }
}

/// A secret in moto holding `value` (a JSON document, usually); returns its ARN.
pub async fn create_secret(value: &str) -> String {
    local_gateway::localaws::LocalAws::from_env()
        .create_secret(&unique("crud-master/test"), value)
        .await
        .expect("create the secret in moto")
}
