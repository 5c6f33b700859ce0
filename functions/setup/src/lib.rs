//! Deploy-time setup, the steps a user would otherwise click by hand: application roles with
//! least privilege, the `movies` and `orders` databases and their migrations. Idempotent: run
//! on every deploy (Terraform invokes it when migrations change) and by `make migrate`.

use serde::Serialize;
use shared::config::{ConfigError, Credentials, Env};
use shared::db::{Db, DbError, DbSettings};
use shared::migrate::{self, Database};
use shared::secrets::SecretSource;

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
    #[error("invalid role name {0:?}: use lowercase letters, digits and _")]
    RoleName(String),
    #[error("broker: {0}")]
    Broker(#[from] billing_api::amqp::PublishError),
}

fn db_err(step: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SetupError {
    let step = step.into();
    move |source| SetupError::Db { step, source }
}

/// One application database and the role that may use it.
#[derive(Debug, Clone)]
pub struct AppDatabase {
    pub kind: Database,
    pub owner: Credentials,
    /// Table privileges the role gets: what the functions need and no more.
    pub privileges: &'static str,
}

#[derive(Debug, Clone)]
pub struct SetupConfig {
    /// The master connection (database `postgres`).
    pub master: DbSettings,
    pub apps: Vec<AppDatabase>,
    /// The broker whose topology to declare, when one is configured.
    pub broker: Option<billing_api::amqp::AmqpSettings>,
}

impl SetupConfig {
    /// `DATABASE_HOST`, `DATABASE_PORT`, `DATABASE_TLS`, `DATABASE_CA_FILE` (read as the functions
    /// read them, see `DbSettings::from_env_with`), master credentials from
    /// `DATABASE_MASTER_SECRET_ARN` (or `DATABASE_MASTER_USER`/`_PASSWORD`), and the two
    /// application roles from `MOVIES_DB_SECRET_ARN` / `ORDERS_DB_SECRET_ARN` (or `*_USER`/`*_PASSWORD`).
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
        let broker =
            if env.optional("AMQP_URL").is_some() || env.optional("AMQP_ENDPOINT").is_some() {
                Some(billing_api::amqp::AmqpSettings::from_env(env, secrets).await?)
            } else {
                None
            };
        Ok(Self {
            master,
            broker,
            apps: vec![
                AppDatabase {
                    kind: Database::Movies,
                    owner: movies,
                    privileges: "SELECT, INSERT, UPDATE, DELETE",
                },
                AppDatabase {
                    kind: Database::Orders,
                    owner: orders,
                    // Orders are never changed or removed by the application.
                    privileges: "SELECT, INSERT",
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

/// One connection as the master user, with the same TLS rules as the functions' pool.
async fn connect(settings: &DbSettings) -> Result<deadpool_postgres::Object, SetupError> {
    Ok(Db::new(settings)?.client().await?)
}

/// Creates roles and databases if absent, sets passwords, applies migrations and grants.
pub async fn run(cfg: &SetupConfig) -> Result<Report, SetupError> {
    let mut report = Report::default();
    let admin = connect(&cfg.master).await?;
    for app in &cfg.apps {
        let role = checked_role(&app.owner.username)?;
        let dbname = app.kind.name();
        let password = quote_literal(app.owner.password.expose());
        let exists = admin
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
            .await
            .map_err(db_err("read roles"))?
            .is_some();
        let verb = if exists { "ALTER" } else { "CREATE" };
        admin
            .batch_execute(&format!("{verb} ROLE {role} LOGIN PASSWORD {password}"))
            .await
            .map_err(db_err(format!("{verb} ROLE {role}")))?;
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
            .batch_execute(&format!(
                "REVOKE ALL ON DATABASE {dbname} FROM PUBLIC; GRANT CONNECT ON DATABASE {dbname} TO {role};"
            ))
            .await
            .map_err(db_err(format!("grant connect on {dbname}")))?;

        let mut settings = cfg.master.clone();
        settings.dbname = dbname.into();
        let mut client = connect(&settings).await?;
        for v in migrate::apply(&mut client, app.kind)
            .await
            .map_err(db_err(format!("migrate {dbname}")))?
        {
            report.applied_migrations.push(format!("{dbname}/{v}"));
        }
        client
            .batch_execute(&format!(
                "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                 GRANT USAGE ON SCHEMA public TO {role};
                 GRANT {privs} ON ALL TABLES IN SCHEMA public TO {role};
                 REVOKE ALL ON schema_migrations FROM {role};
                 GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};",
                privs = app.privileges
            ))
            .await
            .map_err(db_err(format!("grants on {dbname}")))?;
    }
    if let Some(broker) = &cfg.broker {
        let mut settings = broker.clone();
        settings.declare_topology = true;
        let publisher = billing_api::amqp::Publisher::new(settings);
        publisher.ensure_connected().await?;
        report.declared_queue = Some(publisher.queue().to_owned());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_checked_before_reaching_sql() {
        assert!(checked_role("movies_app").is_ok());
        for bad in ["", "Movies", "a;drop", "1abc", "a b"] {
            assert!(checked_role(bad).is_err(), "{bad}");
        }
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
