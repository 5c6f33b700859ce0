//! Broker users with least privilege, created through the RabbitMQ management HTTP API.
//!
//! The administrator user Amazon MQ creates with the broker is used by setup only. billing-api
//! gets a publish-only user and the event source mapping a consume-only user, each with its own
//! secret. Amazon MQ for RabbitMQ manages users only through RabbitMQ's own management API
//! (`PUT /api/users/{name}`, `PUT /api/permissions/{vhost}/{name}`), served over HTTPS on the
//! broker's web console endpoint, listener ports 443 and 15671:
//! <https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-basic-elements-user.html>,
//! <https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-basic-elements-broker.html>.
//! Locally the same API is the `rabbitmq_management` plugin on loopback (scripts/services.sh).

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use shared::config::Credentials;

use crate::retry::Backoff;

/// What a broker user may do, as RabbitMQ's configure/write/read permission regexes on one
/// virtual host (<https://www.rabbitmq.com/docs/access-control>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// billing-api: `basic.publish` to the default exchange (named `amq.default` in permission
    /// checks) with `billing_queue` as routing key. Declares nothing, reads nothing.
    Publisher,
    /// The event source mapping: `basic.consume`/`basic.get`/ack on `billing_queue` need read on
    /// the queue; a passive `queue.declare` (checking the queue exists) needs no permission.
    /// No configure: a non-passive declare of `billing_queue` with other arguments than setup's
    /// would fail with PRECONDITION_FAILED anyway, so the grant would buy nothing.
    Consumer,
}

/// Matches nothing: RabbitMQ's documented way to deny an operation.
const NOTHING: &str = "^$";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permissions {
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl Role {
    pub fn permissions(self, queue: &str) -> Permissions {
        match self {
            Role::Publisher => Permissions {
                configure: NOTHING.into(),
                write: r"^amq\.default$".into(),
                read: NOTHING.into(),
            },
            Role::Consumer => Permissions {
                configure: NOTHING.into(),
                write: NOTHING.into(),
                read: format!("^{}$", regex_escape(queue)),
            },
        }
    }
}

/// A queue name as a literal in a permission regex.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if r"\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone)]
pub struct BrokerUser {
    pub credentials: Credentials,
    pub role: Role,
}

/// The management API and the administrator who may use it.
#[derive(Debug, Clone)]
pub struct Management {
    /// `https://b-….mq.<region>.amazonaws.com` (the broker's console URL), or
    /// `http://127.0.0.1:15673` locally.
    pub url: String,
    pub admin: Credentials,
    pub vhost: String,
    pub timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("management API unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("management API refused {what}: HTTP {status}")]
    Refused { what: String, status: u16 },
    #[error("invalid broker user name {0:?}: use letters, digits, '_', '-' and '.'")]
    UserName(String),
}

impl ManagementError {
    /// Only an unreachable endpoint (or a 5xx of a node still starting) is worth waiting for.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::UserName(_) => false,
        }
    }
}

#[derive(Serialize)]
struct UserBody<'a> {
    password: &'a str,
    /// No tag: these users cannot log in to the web console or use this API.
    tags: &'a str,
}

impl Management {
    fn client(&self) -> Result<reqwest::Client, ManagementError> {
        // reqwest is built without its own provider (ring): it takes the process default.
        shared::install_crypto_provider();
        reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| ManagementError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            })
    }

    async fn put<B: Serialize>(
        &self,
        client: &reqwest::Client,
        what: &str,
        path: &str,
        body: &B,
    ) -> Result<(), ManagementError> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let response = client
            .put(&url)
            .basic_auth(&self.admin.username, Some(self.admin.password.expose()))
            .json(body)
            .send()
            .await
            .map_err(|e| ManagementError::Unreachable {
                url: self.url.clone(),
                // Without the URL: reqwest's Display repeats it, and it is already above.
                reason: e.without_url().to_string(),
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(ManagementError::Refused {
                what: what.to_owned(),
                status: status.as_u16(),
            })
        }
    }

    /// Creates or updates each user (password included, so a rotated secret takes effect) and
    /// sets its permissions on the virtual host. Idempotent. Returns the user names.
    pub async fn ensure_users(
        &self,
        queue: &str,
        users: &[BrokerUser],
        backoff: &Backoff,
    ) -> Result<Vec<String>, ManagementError> {
        let client = self.client()?;
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut done = Vec::new();
        for user in users {
            let name = checked_user(&user.credentials.username)?;
            let body = UserBody {
                password: user.credentials.password.expose(),
                tags: "",
            };
            let (what, path) = (format!("user {name}"), format!("/api/users/{}", enc(name)));
            backoff
                .until_ready(
                    "the broker's management API",
                    ManagementError::is_transient,
                    || self.put(&client, &what, &path, &body),
                )
                .await?;
            let permissions = user.role.permissions(queue);
            self.put(
                &client,
                &format!("permissions of {name}"),
                &format!("/api/permissions/{}/{}", enc(&self.vhost), enc(name)),
                &permissions,
            )
            .await?;
            tracing::info!(user = name, role = ?user.role, ?permissions, "broker user ready");
            done.push(name.to_owned());
        }
        Ok(done)
    }
}

fn checked_user(name: &str) -> Result<&str, ManagementError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    if ok {
        Ok(name)
    } else {
        Err(ManagementError::UserName(name.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_gets_only_what_it_uses() {
        let p = Role::Publisher.permissions("billing_queue");
        assert_eq!(
            (p.configure.as_str(), p.write.as_str(), p.read.as_str()),
            ("^$", r"^amq\.default$", "^$")
        );
        let c = Role::Consumer.permissions("billing.queue");
        assert_eq!(
            (c.configure.as_str(), c.write.as_str(), c.read.as_str()),
            ("^$", "^$", r"^billing\.queue$")
        );
    }

    #[test]
    fn user_names_are_checked_before_reaching_the_api() {
        assert!(checked_user("billing_publisher").is_ok());
        for bad in ["", "a/b", "a b", "../x", "é"] {
            assert!(checked_user(bad).is_err(), "{bad}");
        }
    }
}
