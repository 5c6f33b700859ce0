//! Publishing orders to RabbitMQ (Amazon MQ) with publisher confirms.
//!
//! One connection and one confirm channel per execution environment, opened lazily by the first
//! request, shared by concurrent requests, and re-opened when broken. A request gets a 200 only
//! once the broker has confirmed the persistent message; anything else is an error the handler
//! turns into a 503.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrets::SecretSource;
use settings::{ConfigError, Env};
use settings::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use crate::topology;

/// The largest AMQP frame the publisher negotiates (the protocol's floor is 4096). lapin keeps
/// 32 frames of read and 32 of write buffer and zeroes them when a connection opens: at
/// RabbitMQ's default `frame_max` of 128 KiB that is 8 MiB of `memset` and page faults, which
/// was the largest CPU cost of billing-api's first publish under Lambda's CPU share (`make
/// bench`, docs/performance.md). An order is a few hundred bytes; a larger message is simply
/// split into more body frames. A `frame_max` in the URI wins.
pub const FRAME_MAX: u32 = 8192;

/// `uri` with [`FRAME_MAX`] unless it sets its own.
fn uri_with_frame_max(uri: &str) -> Result<lapin::uri::AMQPUri, PublishError> {
    // The parser's error (a `String`) may quote the URI, password included: not kept.
    let mut parsed: lapin::uri::AMQPUri = uri.parse().map_err(|_| PublishError::InvalidUri)?;
    parsed.query.frame_max.get_or_insert(FRAME_MAX);
    Ok(parsed)
}

/// Where the broker is and how long a publish may take.
#[derive(Debug, Clone)]
pub struct AmqpSettings {
    /// Full URI, credentials included, hence secret.
    pub uri: SecretString,
    pub queue: String,
    /// PEM roots trusted for `amqps://`, on top of any the system has: `AMQP_CA_FILE`'s, else the
    /// Amazon Trust Services roots, which sign Amazon MQ's certificates. Compiled in, so that a
    /// bootstrap with no system store (the image from scratch) still verifies the broker: the
    /// platform verifier alone fails there ("No CA certificates were loaded from the system").
    pub ca_pem: String,
    /// Budget for one request's publish, connecting included.
    pub publish_timeout: Duration,
    /// Declare the topology on every new connection (safe: declarations are idempotent). Off
    /// for billing-api: its broker user may only publish (configure is denied), and the
    /// deploy-time setup declares the durable queue and its dead-letter exchange. Setup and
    /// tests that connect as an administrator turn it on.
    pub declare_topology: bool,
}

impl AmqpSettings {
    /// `AMQP_URL` (local: full URL), else `AMQP_ENDPOINT` (`amqps://host:5671`) with credentials
    /// from `AMQP_SECRET_ARN` (Secrets Manager JSON `{username,password}`) or
    /// `AMQP_USER`/`AMQP_PASSWORD`. `BILLING_QUEUE` (default `billing_queue`),
    /// `AMQP_VHOST` (default `/`), `AMQP_CA_FILE`, `PUBLISH_TIMEOUT_MS` (default 5000),
    /// `AMQP_DECLARE_TOPOLOGY` (default false).
    pub async fn from_env(env: &impl Env, secrets: &SecretSource) -> Result<Self, ConfigError> {
        let uri = match env.optional("AMQP_URL") {
            Some(url) => url,
            None => {
                let endpoint = env
                    .optional("AMQP_ENDPOINT")
                    .ok_or_else(|| ConfigError::Missing("AMQP_URL or AMQP_ENDPOINT".into()))?;
                let creds = secrets
                    .credentials(env, "AMQP_SECRET_ARN", "AMQP_USER", "AMQP_PASSWORD")
                    .await?;
                let vhost = env.optional("AMQP_VHOST").unwrap_or_else(|| "/".into());
                endpoint_uri(
                    &endpoint,
                    &creds.username,
                    creds.password.expose_secret(),
                    &vhost,
                )
                .map_err(|reason| ConfigError::Invalid {
                    name: "AMQP_ENDPOINT".into(),
                    reason,
                })?
            }
        };
        let ca_pem = match env.optional("AMQP_CA_FILE") {
            None => amazon_trust_services_roots(),
            Some(path) => std::fs::read_to_string(&path).map_err(|e| ConfigError::Invalid {
                name: "AMQP_CA_FILE".into(),
                reason: format!("{path}: {e}"),
            })?,
        };
        Ok(Self {
            uri: SecretString::from(uri),
            queue: env
                .optional("BILLING_QUEUE")
                .unwrap_or_else(|| topology::DEFAULT_QUEUE.into()),
            ca_pem,
            publish_timeout: Duration::from_millis(env.parse_or("PUBLISH_TIMEOUT_MS", 5000)?),
            declare_topology: env.parse_or("AMQP_DECLARE_TOPOLOGY", false)?,
        })
    }

    pub fn local(url: &str, queue: &str) -> Self {
        Self {
            uri: SecretString::from(url),
            queue: queue.into(),
            ca_pem: amazon_trust_services_roots(),
            publish_timeout: Duration::from_secs(5),
            declare_topology: true,
        }
    }
}

fn amazon_trust_services_roots() -> String {
    String::from_utf8_lossy(secrets::sdk::AMAZON_TRUST_SERVICES_ROOTS).into_owned()
}

/// `amqps://user:pass@host:5671/vhost` from Amazon MQ's endpoint output and a secret.
pub fn endpoint_uri(
    endpoint: &str,
    user: &str,
    password: &str,
    vhost: &str,
) -> Result<String, String> {
    let (scheme, rest) = endpoint
        .split_once("://")
        .ok_or_else(|| format!("{endpoint:?} should look like amqps://host:5671"))?;
    if scheme != "amqps" && scheme != "amqp" {
        return Err(format!("unsupported scheme {scheme:?}"));
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') {
        return Err(format!("{endpoint:?} should look like amqps://host:5671"));
    }
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    Ok(format!(
        "{scheme}://{}:{}@{host}/{}",
        enc(user),
        enc(password),
        enc(vhost)
    ))
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No source: the parser's error may quote the URI, which holds the password.
    #[error("broker unreachable: the AMQP URI is not valid (value not shown)")]
    InvalidUri,
    /// Connecting, opening the channel or publishing failed: the AMQP client's error, a refused
    /// login included ([`PublishError::is_access_refused`]).
    #[error("broker unreachable: {0}")]
    Unreachable(#[source] lapin::Error),
    #[error("broker refused the message (nack)")]
    Nacked,
    /// The broker returned the message (no queue bound): its reply text.
    #[error("message unroutable: {0}")]
    Unroutable(String),
    #[error("no confirm within {0:?}")]
    Timeout(Duration),
}

impl PublishError {
    /// The broker refused the login or a permission (AMQP 403 `ACCESS_REFUSED`): trying again
    /// with the same credentials cannot succeed.
    pub fn is_access_refused(&self) -> bool {
        use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
        match self {
            Self::Unreachable(e) => matches!(
                e.kind(),
                lapin::ErrorKind::ProtocolError(amqp)
                    if *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)
            ),
            Self::InvalidUri | Self::Nacked | Self::Unroutable(_) | Self::Timeout(_) => false,
        }
    }
}

struct Link {
    connection: Connection,
    channel: Channel,
    generation: u64,
}

/// The per-environment publisher. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AmqpSettings,
    link: Mutex<Option<Link>>,
    generations: std::sync::atomic::AtomicU64,
    /// Tests check connection reuse with it.
    connects: std::sync::atomic::AtomicU64,
}

impl Publisher {
    /// Does not connect: the first publish does, so a cold start survives a broker blip.
    pub fn new(settings: AmqpSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                settings,
                link: Mutex::new(None),
                generations: 0.into(),
                connects: 0.into(),
            }),
        }
    }

    pub fn queue(&self) -> &str {
        &self.inner.settings.queue
    }

    /// How many connections this publisher has opened (tests check reuse with it).
    pub fn connections_opened(&self) -> u64 {
        self.inner
            .connects
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Connects now (declaring the topology when configured) instead of at the first publish:
    /// the deploy-time setup function uses this to create `billing_queue` before the event
    /// source mapping exists.
    pub async fn ensure_connected(&self) -> Result<(), PublishError> {
        tokio::time::timeout(self.inner.settings.publish_timeout, self.channel())
            .await
            .map_err(|_| PublishError::Timeout(self.inner.settings.publish_timeout))?
            .map(|_| ())
    }

    /// The open confirm channel, connecting first when there is none or it broke. The lock makes
    /// concurrent requests wait for one connection instead of each opening their own.
    async fn channel(&self) -> Result<(Channel, u64), PublishError> {
        let mut link = self.inner.link.lock().await;
        if let Some(l) = link.as_ref()
            && l.connection.status().connected()
            && l.channel.status().connected()
        {
            return Ok((l.channel.clone(), l.generation));
        }
        if let Some(old) = link.take() {
            close_in_background(old.connection);
        }
        let fresh = self.connect().await?;
        let out = (fresh.channel.clone(), fresh.generation);
        *link = Some(fresh);
        Ok(out)
    }

    async fn connect(&self) -> Result<Link, PublishError> {
        let s = &self.inner.settings;
        let tls = OwnedTLSConfig {
            identity: None,
            cert_chain: Some(s.ca_pem.clone()),
        };
        let unreachable = PublishError::Unreachable;
        let uri = uri_with_frame_max(s.uri.expose_secret())?;
        let connection = Connection::connect_uri_with_config(
            uri,
            ConnectionProperties::default().with_connection_name("billing-api".into()),
            tls,
            lapin::runtime::default_runtime().map_err(unreachable)?,
        )
        .await
        .map_err(unreachable)?;
        if s.declare_topology {
            topology::declare(&connection, &s.queue)
                .await
                .map_err(unreachable)?;
        }
        let channel = connection.create_channel().await.map_err(unreachable)?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(unreachable)?;
        self.inner
            .connects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let generation = self
            .inner
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(generation, queue = %s.queue, "connected to the broker");
        Ok(Link {
            connection,
            channel,
            generation,
        })
    }

    /// Forgets the link a failed publish used, unless another request already replaced it.
    async fn invalidate(&self, generation: u64) {
        let mut link = self.inner.link.lock().await;
        if link.as_ref().is_some_and(|l| l.generation == generation)
            && let Some(old) = link.take()
        {
            close_in_background(old.connection);
        }
    }

    /// Publishes `body` persistently to the queue and waits for the broker's confirm.
    ///
    /// A connection that died while the environment was frozen only shows when used, so a
    /// failure on a reused connection is retried once on a fresh one, within the same budget.
    /// Publishing twice is safe: the consumer stores each `message_id` once.
    #[tracing::instrument(skip(self, body), fields(queue = %self.inner.settings.queue))]
    pub async fn publish(&self, message_id: &str, body: &[u8]) -> Result<(), PublishError> {
        let budget = self.inner.settings.publish_timeout;
        let deadline = Instant::now() + budget;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            // The first attempt leaves half the budget for a retry on a fresh connection.
            let limit = if attempt == 1 {
                remaining / 2
            } else {
                remaining
            };
            let result = tokio::time::timeout(limit, async {
                let (channel, generation) = self.channel().await?;
                let outcome = self.publish_on(&channel, message_id, body).await;
                Ok::<_, PublishError>((outcome, generation))
            })
            .await;
            let err = match result {
                Ok(Ok((Ok(()), _))) => return Ok(()),
                // The broker answered: a retry would get the same answer.
                Ok(Ok((Err(e @ (PublishError::Nacked | PublishError::Unroutable(_))), _))) => {
                    return Err(e);
                }
                Ok(Ok((Err(e), generation))) => {
                    self.invalidate(generation).await;
                    e
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    let mut link = self.inner.link.lock().await;
                    if let Some(old) = link.take() {
                        close_in_background(old.connection);
                    }
                    PublishError::Timeout(budget)
                }
            };
            if attempt >= 2 || Instant::now() >= deadline {
                return Err(err);
            }
            tracing::warn!(error = %err, "publish failed; retrying once on a fresh connection");
        }
    }

    async fn publish_on(
        &self,
        channel: &Channel,
        message_id: &str,
        body: &[u8],
    ) -> Result<(), PublishError> {
        let s = &self.inner.settings;
        let properties = message_properties(message_id);
        let confirm = channel
            .basic_publish(
                "".into(),
                s.queue.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await
            .map_err(PublishError::Unreachable)?
            .await
            .map_err(PublishError::Unreachable)?;
        if confirm.is_nack() {
            return Err(PublishError::Nacked);
        }
        if let Some(returned) = confirm.take_message() {
            return Err(PublishError::Unroutable(returned.reply_text.to_string()));
        }
        Ok(())
    }
}

/// The properties of every published order: persistent, JSON, named by its `message_id`.
pub fn message_properties(message_id: &str) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(message_id.into())
}

fn close_in_background(connection: Connection) {
    tokio::spawn(async move {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            connection.close(200, "reconnecting".into()),
        )
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_ca_file_the_broker_is_verified_with_the_compiled_in_amazon_roots() {
        let s = AmqpSettings::local("amqps://u:p@b-1.mq.eu-west-1.amazonaws.com:5671", "q");
        assert_eq!(s.ca_pem.matches("BEGIN CERTIFICATE").count(), 5);
    }

    #[test]
    fn frame_max_is_small_unless_the_uri_sets_it() {
        let uri = uri_with_frame_max("amqp://u:p@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(uri.query.frame_max, Some(FRAME_MAX));
        let uri =
            uri_with_frame_max("amqps://u:p@h:5671/%2f?frame_max=65536&heartbeat=10").unwrap();
        assert_eq!(uri.query.frame_max, Some(65536));
        assert_eq!(uri.query.heartbeat, Some(10));
        let err = uri_with_frame_max("amqp://u:Secret-Zq81@[bad").unwrap_err();
        assert!(matches!(err, PublishError::InvalidUri), "{err:?}");
        assert!(!format!("{err} {err:?}").contains("Zq81"), "{err}");
    }

    #[test]
    fn access_refused_is_told_by_its_kind() {
        use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};
        let amqp = |kind| {
            PublishError::Unreachable(
                lapin::ErrorKind::ProtocolError(AMQPError::new(kind, "any text".into())).into(),
            )
        };
        assert!(amqp(AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED)).is_access_refused());
        assert!(!amqp(AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)).is_access_refused());
        assert!(!amqp(AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED)).is_access_refused());
        // The text alone decides nothing.
        let io = std::io::Error::other("ACCESS_REFUSED - Login was refused");
        assert!(!PublishError::Unreachable(io.into()).is_access_refused());
        assert!(!PublishError::Timeout(Duration::from_secs(1)).is_access_refused());
    }

    #[test]
    fn endpoint_uri_encodes_credentials_and_vhost() {
        let u = endpoint_uri(
            "amqps://b-1.mq.eu-west-1.amazonaws.com:5671",
            "app",
            "p@ss/w:rd",
            "/",
        )
        .unwrap();
        assert_eq!(
            u,
            "amqps://app:p%40ss%2Fw%3Ard@b-1.mq.eu-west-1.amazonaws.com:5671/%2F"
        );
        assert!(endpoint_uri("b-1.mq.amazonaws.com", "a", "b", "/").is_err());
        assert!(endpoint_uri("http://x", "a", "b", "/").is_err());
    }

    #[tokio::test]
    async fn settings_name_what_is_missing() {
        let secrets = SecretSource::new(&[("", "")]);
        let err = AmqpSettings::from_env(&[("X", "1")], &secrets)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("AMQP_URL or AMQP_ENDPOINT"),
            "{err}"
        );
        let err = AmqpSettings::from_env(&[("AMQP_ENDPOINT", "amqps://h:5671")], &secrets)
            .await
            .unwrap_err();
        assert_eq!(err, ConfigError::Missing("AMQP_USER".into()));
        let s = AmqpSettings::from_env(
            &[
                ("AMQP_ENDPOINT", "amqps://h:5671"),
                ("AMQP_USER", "u"),
                ("AMQP_PASSWORD", "p"),
            ],
            &secrets,
        )
        .await
        .unwrap();
        assert_eq!(s.queue, "billing_queue");
        assert!(!s.declare_topology, "billing-api only publishes");
        assert!(!format!("{s:?}").contains("u:p@"), "the URI never prints");
    }
}
