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

use backon::{ConstantBuilder, Retryable};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use settings::{Credentials, ExposeSecret};

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
    /// Configure on `billing_queue` alone: Lambda does not document whether its poller declares
    /// the queue, and a non-passive declare needs it. The queue has no `x-` arguments (its
    /// dead-letter exchange is a policy: [`Management::ensure_dead_letter_policy`]), so such a
    /// declare is equivalent and succeeds. No other queue, no exchange.
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
                configure: format!("^{}$", regex_escape(queue)),
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
    /// The administrator with the stored password: what setup logs in with.
    pub admin: Credentials,
    /// Passwords the same administrator may still have on the broker, tried in order when the
    /// stored one is refused: the secret's previous version (a rotation), then the bootstrap
    /// password the broker was created with. See [`Management::ensure_admin_password`].
    pub earlier_admins: Vec<Credentials>,
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
    #[error(
        "the broker refuses administrator {user} with the stored password and with every earlier one ({tried} tried): its password was changed outside setup"
    )]
    AdminRefused { user: String, tried: usize },
    #[error("queue {queue} has no dead-letter exchange: policy {applied:?} applies, not {wanted}")]
    PolicyNotApplied {
        queue: String,
        wanted: String,
        applied: Option<String>,
    },
}

impl ManagementError {
    /// Only an unreachable endpoint (or a 5xx of a node still starting) is worth waiting for.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { status, .. } => *status >= 500,
            Self::UserName(_) | Self::PolicyNotApplied { .. } | Self::AdminRefused { .. } => false,
        }
    }
}

/// The name of the policy that gives `queue` its dead-letter exchange.
pub fn dead_letter_policy_name(queue: &str) -> String {
    format!("{queue}-dead-letter")
}

/// A policy as the management API lists it (`GET /api/policies/{vhost}`).
#[derive(Debug, Clone, serde::Deserialize, Serialize)]
pub struct Policy {
    #[serde(default, skip_serializing)]
    pub name: String,
    pub pattern: String,
    #[serde(rename = "apply-to")]
    pub apply_to: String,
    pub definition: serde_json::Map<String, serde_json::Value>,
    pub priority: i64,
}

/// The dead-letter policy for `queue`, given the vhost's other policies. Only one policy applies
/// to a queue, the one of highest priority (<https://www.rabbitmq.com/docs/policies>), so ours
/// carries the definition of the one that would apply otherwise (on Amazon MQ its default
/// policy, e.g. `AWS-DEFAULT-POLICY-SINGLE-INSTANCE`: <https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-defaults.html>),
/// plus the dead-letter exchange, one priority above every policy that may match (one whose
/// pattern this crate cannot read counts as matching). It applies to classic queues only where
/// the broker knows the kind (RabbitMQ 3.12 and later): Amazon MQ adds classic mirroring's keys
/// to a cluster's policies, and a policy may not cover classic and quorum queues at once
/// (<https://docs.aws.amazon.com/amazon-mq/latest/developer-guide/rabbitmq-defaults-applying-policies.html>).
pub fn dead_letter_policy(queue: &str, others: &[Policy], classic_queues_kind: bool) -> Policy {
    let ours = dead_letter_policy_name(queue);
    let candidates: Vec<(&Policy, bool)> = others
        .iter()
        .filter(|p| {
            p.name != ours && matches!(p.apply_to.as_str(), "all" | "queues" | "classic_queues")
        })
        .filter_map(|p| match regex_lite::Regex::new(&p.pattern) {
            Ok(r) => r.is_match(queue).then_some((p, true)),
            Err(_) => Some((p, false)),
        })
        .collect();
    let base = candidates
        .iter()
        .filter(|(_, readable)| *readable)
        .map(|(p, _)| *p)
        .max_by_key(|p| p.priority);
    let above = candidates.iter().map(|(p, _)| p.priority).max();
    let mut definition = base.map(|p| p.definition.clone()).unwrap_or_default();
    definition.insert(
        ::broker::topology::DEAD_LETTER_EXCHANGE_KEY.into(),
        ::broker::topology::dead_letter_exchange(queue).into(),
    );
    Policy {
        name: ours,
        pattern: format!("^{}$", regex_escape(queue)),
        apply_to: if classic_queues_kind {
            "classic_queues"
        } else {
            "queues"
        }
        .into(),
        definition,
        priority: above.map_or(0, |p| p + 1),
    }
}

/// `apply-to: classic_queues` exists from RabbitMQ 3.12 (`rabbitmq_version` of
/// `GET /api/overview`, e.g. "3.13.7").
fn knows_classic_queues(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 12)
}

#[derive(serde::Deserialize)]
struct Overview {
    rabbitmq_version: String,
}

/// What `GET /api/queues/{vhost}/{queue}` says applies to a queue.
#[derive(serde::Deserialize)]
struct QueueState {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    arguments: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct UserBody<'a> {
    password: &'a str,
    /// No tag: these users cannot log in to the web console or use this API.
    tags: &'a str,
}

/// `GET /api/users/{name}`: a list since RabbitMQ 3.9, a comma-separated string before.
#[derive(serde::Deserialize)]
struct UserInfo {
    #[serde(default)]
    tags: serde_json::Value,
}

impl UserInfo {
    fn tags(&self) -> String {
        match &self.tags {
            serde_json::Value::Array(tags) => tags
                .iter()
                .filter_map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(","),
            serde_json::Value::String(tags) => tags.clone(),
            _ => String::new(),
        }
    }
}

/// What [`Management::ensure_admin_password`] found on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPassword {
    /// The broker already takes the stored password.
    Stored,
    /// An earlier password (the bootstrap one, or the previous version) was replaced by it.
    Replaced,
}

impl Management {
    fn client(&self) -> Result<reqwest::Client, ManagementError> {
        // reqwest is built without its own provider (ring): it takes the process default.
        settings::install_crypto_provider();
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
        self.send(&self.admin, client.put(self.url_of(path)).json(body), what)
            .await
            .map(drop)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        what: &str,
        path: &str,
    ) -> Result<T, ManagementError> {
        self.get_as(&self.admin, client, what, path).await
    }

    async fn get_as<T: serde::de::DeserializeOwned>(
        &self,
        who: &Credentials,
        client: &reqwest::Client,
        what: &str,
        path: &str,
    ) -> Result<T, ManagementError> {
        let response = self.send(who, client.get(self.url_of(path)), what).await?;
        response.json().await.map_err(|e| self.unreachable(e))
    }

    fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    /// Sends `request` as `who`; a status other than 2xx is a refusal of `what`.
    async fn send(
        &self,
        who: &Credentials,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, ManagementError> {
        let response = request
            .basic_auth(&who.username, Some(who.password.expose_secret()))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        if status.is_success() {
            Ok(response)
        } else {
            Err(ManagementError::Refused {
                what: what.to_owned(),
                status: status.as_u16(),
            })
        }
    }

    fn unreachable(&self, e: reqwest::Error) -> ManagementError {
        ManagementError::Unreachable {
            url: self.url.clone(),
            // Without the URL: reqwest's Display repeats it, and it is already above.
            reason: e.without_url().to_string(),
        }
    }

    /// Makes the stored password the administrator's on the broker, before anything else logs
    /// in with it. The broker is created with a bootstrap password (the one value of the stack
    /// that Terraform's state holds, as `aws_mq_broker` takes no write-only password), and a
    /// rotation stores a new password the broker does not know yet: when the stored password is
    /// refused, each of `earlier_admins` is tried, and the first the broker accepts sets the
    /// stored one (`PUT /api/users/{name}`, its tags kept). Idempotent.
    pub async fn ensure_admin_password(
        &self,
        backoff: &Backoff,
    ) -> Result<AdminPassword, ManagementError> {
        let client = self.client()?;
        let name = checked_user(&self.admin.username)?;
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let path = format!("/api/users/{}", enc(name));
        let what = format!("administrator {name}");
        let refused = |e: &ManagementError| matches!(e, ManagementError::Refused { status, .. } if *status == 401);
        let stored = backoff
            .until_ready(
                "the broker's management API",
                ManagementError::is_transient,
                || self.get_as::<UserInfo>(&self.admin, &client, &what, &path),
            )
            .await;
        match stored {
            Ok(_) => return Ok(AdminPassword::Stored),
            Err(e) if refused(&e) => {}
            Err(e) => return Err(e),
        }
        for earlier in self.earlier_admins.iter().filter(|c| c.username == name) {
            let info: UserInfo = match self.get_as(earlier, &client, &what, &path).await {
                Ok(info) => info,
                Err(e) if refused(&e) => continue,
                Err(e) => return Err(e),
            };
            let body = UserBody {
                password: self.admin.password.expose_secret(),
                tags: &info.tags(),
            };
            self.send(
                earlier,
                client.put(self.url_of(&path)).json(&body),
                &format!("the new password of {what}"),
            )
            .await?;
            self.get_as::<UserInfo>(&self.admin, &client, &what, &path)
                .await?;
            tracing::info!(
                user = name,
                "administrator password set to the stored one; the earlier password no longer opens the broker"
            );
            return Ok(AdminPassword::Replaced);
        }
        Err(ManagementError::AdminRefused {
            user: name.to_owned(),
            tried: 1 + self.earlier_admins.len(),
        })
    }

    /// Sets the policy that gives `queue` its dead-letter exchange ([`dead_letter_policy`]).
    /// Idempotent: the other policies decide its definition and priority, never itself.
    pub async fn ensure_dead_letter_policy(
        &self,
        queue: &str,
        backoff: &Backoff,
    ) -> Result<Policy, ManagementError> {
        let client = self.client()?;
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let list = format!("/api/policies/{}", enc(&self.vhost));
        let others: Vec<Policy> = backoff
            .until_ready(
                "the broker's management API",
                ManagementError::is_transient,
                || self.get(&client, "the policies", &list),
            )
            .await?;
        let overview: Overview = self.get(&client, "the overview", "/api/overview").await?;
        let policy = dead_letter_policy(
            queue,
            &others,
            knows_classic_queues(&overview.rabbitmq_version),
        );
        self.put(
            &client,
            &format!("policy {}", policy.name),
            &format!("/api/policies/{}/{}", enc(&self.vhost), enc(&policy.name)),
            &policy,
        )
        .await?;
        // The broker applies a policy on its own time; the queue says which applies. One
        // declared with the argument (before the policy) has its dead-letter exchange anyway.
        let path = format!("/api/queues/{}/{}", enc(&self.vhost), enc(queue));
        let applied = || async {
            let state: QueueState = self.get(&client, &format!("queue {queue}"), &path).await?;
            if state.policy.as_deref() == Some(policy.name.as_str())
                || state.arguments.contains_key("x-dead-letter-exchange")
            {
                return Ok(());
            }
            Err(ManagementError::PolicyNotApplied {
                queue: queue.to_owned(),
                wanted: policy.name.clone(),
                applied: state.policy,
            })
        };
        // Read again every 200 ms, 50 reads at most; an unreachable API is not waited for here.
        applied
            .retry(
                ConstantBuilder::new()
                    .with_delay(Duration::from_millis(200))
                    .with_max_times(49),
            )
            .when(|e| matches!(e, ManagementError::PolicyNotApplied { .. }))
            .await?;
        tracing::info!(policy = %policy.name, priority = policy.priority, definition = ?policy.definition, "dead-letter policy set");
        Ok(policy)
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
                password: user.credentials.password.expose_secret(),
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
            (r"^billing\.queue$", "^$", r"^billing\.queue$")
        );
    }

    fn policy(name: &str, pattern: &str, apply_to: &str, priority: i64, key: &str) -> Policy {
        let mut definition = serde_json::Map::new();
        definition.insert(key.into(), "x".into());
        Policy {
            name: name.into(),
            pattern: pattern.into(),
            apply_to: apply_to.into(),
            definition,
            priority,
        }
    }

    #[test]
    fn the_dead_letter_policy_keeps_what_would_apply_otherwise() {
        let alone = dead_letter_policy("billing_queue", &[], false);
        assert_eq!(alone.name, "billing_queue-dead-letter");
        assert_eq!(alone.pattern, "^billing_queue$");
        assert_eq!(alone.priority, 0);
        assert_eq!(
            alone.apply_to, "queues",
            "RabbitMQ before 3.12 has no classic_queues"
        );
        assert_eq!(
            serde_json::Value::Object(alone.definition),
            serde_json::json!({"dead-letter-exchange": "billing_queue.dlx"})
        );

        // Amazon MQ's default policy (every queue, priority 1 on a cluster), a quorum-only one
        // above it, one for other queues, and ours from a previous run: only the first counts.
        let others = [
            policy(
                "AWS-DEFAULT-POLICY-CLUSTER-MULTI-AZ",
                ".*",
                "all",
                1,
                "queue-mode",
            ),
            policy(
                "AWS-DEFAULT-QUORUM-QUEUES-POLICY",
                ".*",
                "quorum_queues",
                5,
                "delivery-limit",
            ),
            policy("orders-only", "^orders", "queues", 9, "max-length"),
            policy(
                "billing_queue-dead-letter",
                "^billing_queue$",
                "queues",
                7,
                "stale",
            ),
            policy("unparsable", "(", "queues", 8, "broken"),
        ];
        let merged = dead_letter_policy("billing_queue", &others, true);
        assert_eq!(merged.apply_to, "classic_queues");
        // Above the unreadable pattern too (it may match), with the readable one's definition.
        assert_eq!(merged.priority, 9);
        let mut keys: Vec<&str> = merged.definition.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["dead-letter-exchange", "queue-mode"]);
    }

    #[test]
    fn classic_queues_is_known_from_3_12() {
        for (v, known) in [
            ("3.10.8", false),
            ("3.11.28", false),
            ("3.12.0", true),
            ("3.13.7", true),
            ("4.0.5", true),
            ("junk", false),
        ] {
            assert_eq!(knows_classic_queues(v), known, "{v}");
        }
    }

    #[test]
    fn user_names_are_checked_before_reaching_the_api() {
        assert!(checked_user("billing_publisher").is_ok());
        for bad in ["", "a/b", "a b", "../x", "é"] {
            assert!(checked_user(bad).is_err(), "{bad}");
        }
    }
}
