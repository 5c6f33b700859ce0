//! Deploy-time setup, the steps a user would otherwise click by hand: application roles with
//! least privilege, the `movies` and `orders` databases and their migrations, the durable
//! `billing_queue` and the broker users of billing-api and the event source mapping.
//! Idempotent: run on every deploy (Terraform invokes it when migrations, code or any
//! credential it applies change) and by `make migrate`.

pub mod broker;
pub mod retry;

use std::time::Duration;

use database::migrate::{self, Database};
use database::{Db, DbError, DbSettings};
use secrets::SecretSource;
use serde::Serialize;
use settings::{ConfigError, Credentials, Env, ExposeSecret};

use crate::broker::{BrokerUser, Management, ManagementError, Role};
use crate::retry::Backoff;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("database {step}: {source}")]
    Db {
        step: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("database connection: {0}")]
    Connect(#[from] DbError),
    #[error("invalid role or database name {0:?}: use lowercase letters, digits and _")]
    RoleName(String),
    #[error("broker: {0}")]
    Broker(#[from] ::broker::amqp::PublishError),
    #[error("broker users: {0}")]
    Management(#[from] ManagementError),
}

fn db_err(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SetupError {
    let step = step.into();
    move |source| SetupError::Db { step, source }
}

/// One application database and the role that may use it.
#[derive(Debug, Clone)]
pub struct AppDatabase {
    pub kind: Database,
    /// The database's name: the kind's (`movies`, `orders`) unless `MOVIES_DB` / `ORDERS_DB`
    /// name another (a second local stack beside the developer's, such as the README check's).
    pub name: String,
    /// The roles that use it, each with its own login.
    pub roles: Vec<AppRole>,
}

/// A function's database role.
#[derive(Debug, Clone)]
pub struct AppRole {
    pub credentials: Credentials,
    /// Table privileges the role gets: what its function needs and no more.
    pub privileges: &'static str,
}

#[derive(Debug, Clone)]
pub struct SetupConfig {
    /// The master connection (database `postgres`).
    pub master: DbSettings,
    pub apps: Vec<AppDatabase>,
    /// The broker whose topology to declare and whose users to create, when one is configured.
    pub broker: Option<BrokerSetup>,
    /// How long setup waits, in total, for PostgreSQL and the broker to accept connections.
    pub connect_budget: Duration,
}

/// The broker as its administrator sees it.
#[derive(Debug, Clone)]
pub struct BrokerSetup {
    /// AMQP as the administrator: declares the topology.
    pub amqp: ::broker::amqp::AmqpSettings,
    /// The management API, when broker users are to be created.
    pub management: Option<Management>,
    /// The publish-only and consume-only users.
    pub users: Vec<BrokerUser>,
}

impl SetupConfig {
    /// `DATABASE_HOST`, `DATABASE_PORT`, `DATABASE_TLS`, `DATABASE_CA_FILE` (read as the functions
    /// read them, see `DbSettings::from_env_with`), master credentials from
    /// `DATABASE_MASTER_SECRET_ARN` (or `DATABASE_MASTER_USER`/`_PASSWORD`), and the two
    /// application roles from `MOVIES_DB_SECRET_ARN` / `ORDERS_DB_SECRET_ARN` /
    /// `ORDERS_READER_SECRET_ARN` (or `*_USER`/`*_PASSWORD`).
    pub async fn from_env(env: &impl Env, secrets: &SecretSource) -> Result<Self, SetupError> {
        let master_creds = secrets
            .credentials(
                env,
                "DATABASE_MASTER_SECRET_ARN",
                "DATABASE_MASTER_USER",
                "DATABASE_MASTER_PASSWORD",
            )
            .await?;
        let master = DbSettings::from_env_with(env, "postgres", master_creds)?;
        let movies = secrets
            .credentials(
                env,
                "MOVIES_DB_SECRET_ARN",
                "MOVIES_DB_USER",
                "MOVIES_DB_PASSWORD",
            )
            .await?;
        let orders = secrets
            .credentials(
                env,
                "ORDERS_DB_SECRET_ARN",
                "ORDERS_DB_USER",
                "ORDERS_DB_PASSWORD",
            )
            .await?;
        let orders_reader = secrets
            .credentials(
                env,
                "ORDERS_READER_SECRET_ARN",
                "ORDERS_READER_USER",
                "ORDERS_READER_PASSWORD",
            )
            .await?;
        let broker =
            if env.optional("AMQP_URL").is_some() || env.optional("AMQP_ENDPOINT").is_some() {
                Some(BrokerSetup::from_env(env, secrets).await?)
            } else {
                None
            };
        Ok(Self {
            master,
            broker,
            connect_budget: Duration::from_secs(env.parse_or("SETUP_CONNECT_BUDGET_SECS", 90)?),
            apps: vec![
                AppDatabase {
                    kind: Database::Movies,
                    name: env
                        .optional("MOVIES_DB")
                        .unwrap_or_else(|| Database::Movies.name().into()),
                    roles: vec![AppRole {
                        credentials: movies,
                        privileges: "SELECT, INSERT, UPDATE, DELETE",
                    }],
                },
                AppDatabase {
                    kind: Database::Orders,
                    name: env
                        .optional("ORDERS_DB")
                        .unwrap_or_else(|| Database::Orders.name().into()),
                    roles: vec![
                        // billing-consumer: orders are never changed or removed.
                        AppRole {
                            credentials: orders,
                            privileges: "SELECT, INSERT",
                        },
                        // billing-api only reads the orders the consumer stored.
                        AppRole {
                            credentials: orders_reader,
                            privileges: "SELECT",
                        },
                    ],
                },
            ],
        })
    }
}

impl BrokerSetup {
    /// The administrator's AMQP settings (`AMQP_URL`, or `AMQP_ENDPOINT` with `AMQP_SECRET_ARN`
    /// or `AMQP_USER`/`AMQP_PASSWORD`, see `AmqpSettings::from_env`). With
    /// `RABBITMQ_MANAGEMENT_URL` set, also the management API (same administrator credentials)
    /// and the two users: `BROKER_PUBLISHER_SECRET_ARN` (or `BROKER_PUBLISHER_USER`/`_PASSWORD`)
    /// and `BROKER_CONSUMER_SECRET_ARN` (or `BROKER_CONSUMER_USER`/`_PASSWORD`).
    pub async fn from_env(env: &impl Env, secrets: &SecretSource) -> Result<Self, SetupError> {
        let mut amqp = ::broker::amqp::AmqpSettings::from_env(env, secrets).await?;
        amqp.declare_topology = true;
        let Some(url) = env.optional("RABBITMQ_MANAGEMENT_URL") else {
            return Ok(Self {
                amqp,
                management: None,
                users: Vec::new(),
            });
        };
        let admin = secrets
            .credentials(env, "AMQP_SECRET_ARN", "AMQP_USER", "AMQP_PASSWORD")
            .await?;
        let publisher = secrets
            .credentials(
                env,
                "BROKER_PUBLISHER_SECRET_ARN",
                "BROKER_PUBLISHER_USER",
                "BROKER_PUBLISHER_PASSWORD",
            )
            .await?;
        let consumer = secrets
            .credentials(
                env,
                "BROKER_CONSUMER_SECRET_ARN",
                "BROKER_CONSUMER_USER",
                "BROKER_CONSUMER_PASSWORD",
            )
            .await?;
        // Where the administrator may still have an earlier password: the stored secret's
        // previous version (after a rotation), then the bootstrap password the broker was
        // created with (`BROKER_BOOTSTRAP_SECRET_ARN`, or `BROKER_BOOTSTRAP_USER`/`_PASSWORD`).
        let mut earlier_admins = Vec::new();
        if let Some(arn) = env.optional("AMQP_SECRET_ARN")
            && let Some(raw) = secrets.previous(&arn).await?
        {
            earlier_admins.push(secrets::parse_credentials(&arn, &raw)?);
        }
        if env.optional("BROKER_BOOTSTRAP_SECRET_ARN").is_some()
            || env.optional("BROKER_BOOTSTRAP_USER").is_some()
        {
            earlier_admins.push(
                secrets
                    .credentials(
                        env,
                        "BROKER_BOOTSTRAP_SECRET_ARN",
                        "BROKER_BOOTSTRAP_USER",
                        "BROKER_BOOTSTRAP_PASSWORD",
                    )
                    .await?,
            );
        }
        Ok(Self {
            amqp,
            management: Some(Management {
                url,
                admin,
                earlier_admins,
                vhost: env.optional("AMQP_VHOST").unwrap_or_else(|| "/".into()),
                timeout: Duration::from_secs(10),
            }),
            users: vec![
                BrokerUser {
                    credentials: publisher,
                    role: Role::Publisher,
                },
                BrokerUser {
                    credentials: consumer,
                    role: Role::Consumer,
                },
            ],
        })
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub created_databases: Vec<String>,
    pub applied_migrations: Vec<String>,
    /// The queue declared on the broker (durable, with its dead-letter exchange), if any.
    pub declared_queue: Option<String>,
    /// The broker users created or updated, with their permissions.
    pub broker_users: Vec<String>,
}

fn checked_role(name: &str) -> Result<&str, SetupError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(name)
    } else {
        Err(SetupError::RoleName(name.into()))
    }
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// One connection as the master user, with the same TLS rules as the functions' pool,
/// waiting (within the run's budget) while the server or the proxy does not accept it yet.
async fn connect(
    settings: &DbSettings,
    backoff: &Backoff,
) -> Result<deadpool_postgres::Object, SetupError> {
    let db = Db::new(settings)?;
    let what = format!(
        "PostgreSQL at {}:{} (database {})",
        settings.host, settings.port, settings.dbname
    );
    Ok(backoff
        .until_ready(&what, DbError::is_unavailable, || db.client())
        .await?)
}

/// The `PASSWORD` literal for a role: a SCRAM-SHA-256 verifier computed here (RFC 5802/7677:
/// random salt, 4096 iterations, StoredKey and ServerKey, the format PostgreSQL stores in
/// `pg_authid`), so the password itself never travels in SQL, which the server may log
/// (`log_statement`, `pg_stat_statements`, errors).
/// <https://www.postgresql.org/docs/current/sql-createrole.html>: a password already in
/// SCRAM-SHA-256 format is stored as is.
pub fn scram_verifier(password: &str) -> String {
    postgres_protocol::password::scram_sha_256(password.as_bytes())
}

/// Creates roles and databases if absent, sets passwords, applies migrations and grants;
/// declares the broker topology and creates the broker users.
pub async fn run(cfg: &SetupConfig) -> Result<Report, SetupError> {
    let mut report = Report::default();
    let backoff = Backoff::new(cfg.connect_budget);
    let admin = connect(&cfg.master, &backoff).await?;
    for app in &cfg.apps {
        // Database names follow the same identifier rule as role names.
        let dbname = checked_role(&app.name)?;
        for role in &app.roles {
            let name = checked_role(&role.credentials.username)?;
            let password =
                quote_literal(&scram_verifier(role.credentials.password.expose_secret()));
            let exists = admin
                .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
                .await
                .map_err(db_err("read roles"))?
                .is_some();
            let verb = if exists { "ALTER" } else { "CREATE" };
            admin
                .batch_execute(&format!("{verb} ROLE {name} LOGIN PASSWORD {password}"))
                .await
                .map_err(db_err(format!("{verb} ROLE {name}")))?;
        }
        let db_exists = admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&dbname])
            .await
            .map_err(db_err("read databases"))?
            .is_some();
        if !db_exists {
            admin
                .batch_execute(&format!("CREATE DATABASE {dbname}"))
                .await
                .map_err(db_err(format!("CREATE DATABASE {dbname}")))?;
            report.created_databases.push(dbname.into());
        }
        admin
            .batch_execute(&format!("REVOKE ALL ON DATABASE {dbname} FROM PUBLIC"))
            .await
            .map_err(db_err(format!("revoke on {dbname}")))?;
        for role in &app.roles {
            let name = &role.credentials.username;
            admin
                .batch_execute(&format!("GRANT CONNECT ON DATABASE {dbname} TO {name}"))
                .await
                .map_err(db_err(format!("grant connect on {dbname}")))?;
        }

        let mut settings = cfg.master.clone();
        settings.dbname = dbname.into();
        let mut client = connect(&settings, &backoff).await?;
        for v in migrate::apply(&mut client, app.kind)
            .await
            .map_err(db_err(format!("migrate {dbname}")))?
        {
            report.applied_migrations.push(format!("{dbname}/{v}"));
        }
        client
            .batch_execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            .await
            .map_err(db_err(format!("revoke create on {dbname}")))?;
        for role in &app.roles {
            let name = &role.credentials.username;
            // Sequences only for a role that inserts (a bigserial's nextval needs USAGE).
            let sequences = if role.privileges.contains("INSERT") {
                format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name};")
            } else {
                String::new()
            };
            client
                .batch_execute(&format!(
                    "GRANT USAGE ON SCHEMA public TO {name};
                     GRANT {privs} ON ALL TABLES IN SCHEMA public TO {name};
                     REVOKE ALL ON schema_migrations FROM {name};
                     {sequences}",
                    privs = role.privileges
                ))
                .await
                .map_err(db_err(format!("grants on {dbname} to {name}")))?;
        }
    }
    if let Some(broker) = &cfg.broker {
        let (queue, users) = setup_broker(broker, &backoff).await?;
        report.declared_queue = Some(queue);
        report.broker_users = users;
    }
    Ok(report)
}

/// Declares the durable queue and its dead-letter exchange as the administrator, then creates
/// or updates the least-privilege users. Returns the queue and the user names.
pub async fn setup_broker(
    broker: &BrokerSetup,
    backoff: &Backoff,
) -> Result<(String, Vec<String>), SetupError> {
    // First the administrator's own password: the AMQP login below uses the stored one.
    if let Some(management) = &broker.management {
        management.ensure_admin_password(backoff).await?;
    }
    let publisher = ::broker::amqp::Publisher::new(broker.amqp.clone());
    backoff
        .until_ready("the broker (AMQP)", broker_transient, || {
            publisher.ensure_connected()
        })
        .await?;
    let queue = publisher.queue().to_owned();
    let users = match &broker.management {
        Some(management) => {
            management
                .ensure_dead_letter_policy(&queue, backoff)
                .await?;
            management
                .ensure_users(&queue, &broker.users, backoff)
                .await?
        }
        None => {
            tracing::warn!(
                "no management API (RABBITMQ_MANAGEMENT_URL unset): no broker users and no dead-letter policy set"
            );
            Vec::new()
        }
    };
    Ok((queue, users))
}

/// A refused login or permission, or a URI that does not parse, will not fix itself; anything
/// else (refused connection, timeout, a node still booting) may.
fn broker_transient(e: &::broker::amqp::PublishError) -> bool {
    !(e.is_access_refused() || matches!(e, ::broker::amqp::PublishError::InvalidUri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_or_a_bad_uri_stops_the_wait_for_the_broker() {
        use ::broker::amqp::PublishError;
        use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPSoftError};
        let refused = lapin::ErrorKind::ProtocolError(AMQPError::new(
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED),
            "ACCESS_REFUSED - Login was refused".into(),
        ));
        assert!(!broker_transient(&PublishError::Unreachable(
            refused.into()
        )));
        assert!(!broker_transient(&PublishError::InvalidUri));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(broker_transient(&PublishError::Unreachable(reset.into())));
        assert!(broker_transient(&PublishError::Timeout(
            std::time::Duration::from_secs(1)
        )));
    }

    #[test]
    fn role_names_are_checked_before_reaching_sql() {
        assert!(checked_role("movies_app").is_ok());
        for bad in ["", "Movies", "a;drop", "1abc", "a b"] {
            assert!(checked_role(bad).is_err(), "{bad}");
        }
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn role_passwords_become_scram_verifiers() {
        let v = scram_verifier("hunter2-it's");
        let (head, keys) = v
            .split_once('$')
            .and_then(|(h, r)| r.split_once('$').map(|(s, k)| (format!("{h}${s}"), k)))
            .unwrap();
        assert!(head.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        let (stored, server) = keys.split_once(':').unwrap();
        // 32-byte SHA-256 keys, base64: 44 characters each.
        assert_eq!((stored.len(), server.len()), (44, 44), "{v}");
        assert!(!v.contains("hunter2"));
        assert!(!v.contains('\''), "nothing to escape in SQL");
        assert_ne!(v, scram_verifier("hunter2-it's"), "a fresh salt each time");
    }
}
