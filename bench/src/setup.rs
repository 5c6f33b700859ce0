//! What a run needs, created fresh each time so figures never depend on leftovers: its own
//! `bench_movies` / `bench_orders` databases (migrated, granted to the application roles that
//! `make migrate` creates), a Cognito user pool with a user and a token, an SQS dead-letter
//! queue and a Secrets Manager secret on moto (`local_gateway::localaws`, as `make dev`), and
//! its own RabbitMQ queue.

use database::DbSettings;
use database::migrate::{self, Database};
use local_gateway::localaws::{LocalAws, Settings, TokenKind};

pub const MOVIES_DB: &str = "bench_movies";
pub const ORDERS_DB: &str = "bench_orders";
pub const MOVIES_ROLE: (&str, &str) = ("movies_app", "movies-local-password");
pub const ORDERS_ROLE: (&str, &str) = ("orders_app", "orders-local-password");
/// Movies the run seeds: ids 1..=SEED_MOVIES (reads and updates use 1..=1000, deletes the rest).
pub const SEED_MOVIES: i64 = 30_000;

/// Where the local services are (`.local/env`, written by `scripts/services.sh up`).
#[derive(Debug, Clone)]
pub struct Services {
    pub pg_host: String,
    pub pg_port: u16,
    pub pg_user: String,
    pub pg_password: String,
    pub amqp_url: String,
    pub aws_endpoint: String,
    pub region: String,
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| {
        format!(
            "{name} is not set: run `make bench` (or `source .local/env` after `make services`)"
        )
    })
}

impl Services {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            pg_host: var("CRUD_PG_HOST")?,
            pg_port: var("CRUD_PG_PORT")?
                .parse()
                .map_err(|e| format!("CRUD_PG_PORT: {e}"))?,
            pg_user: var("CRUD_PG_USER")?,
            pg_password: var("CRUD_PG_PASSWORD")?,
            amqp_url: var("AMQP_URL")?,
            aws_endpoint: var("AWS_ENDPOINT_URL")?,
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
        })
    }

    /// The superuser on `dbname` (setup and the reference round trips).
    pub fn admin(&self, dbname: &str) -> DbSettings {
        DbSettings::local(
            &self.pg_host,
            self.pg_port,
            dbname,
            &self.pg_user,
            &self.pg_password,
        )
    }

    /// An application role on `dbname`, as the functions connect.
    pub fn app(&self, dbname: &str, role: (&str, &str), pool_size: usize) -> DbSettings {
        let mut s = DbSettings::local(&self.pg_host, self.pg_port, dbname, role.0, role.1);
        s.pool_size = pool_size;
        s
    }

    pub async fn connect(&self, settings: &DbSettings) -> Result<tokio_postgres::Client, String> {
        let (client, conn) = settings
            .pg_config()
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting to {}: {e}", settings.dbname))?;
        tokio::spawn(conn);
        Ok(client)
    }

    /// Drops and recreates `bench_movies` and `bench_orders`, migrates them and grants them to
    /// the application roles (what `setup` does for `movies` and `orders`, creating the roles
    /// when `make migrate` has not); seeds movies.
    pub async fn databases(&self) -> Result<(), String> {
        let admin = self.connect(&self.admin("postgres")).await?;
        // The application roles, as `make migrate` creates them (with the same local passwords),
        // so `make bench` does not need the setup tool built first.
        for (role, password) in [MOVIES_ROLE, ORDERS_ROLE] {
            let exists = admin
                .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role])
                .await
                .map_err(|e| pg_err(&e))?
                .is_some();
            if !exists {
                admin
                    .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
                    .await
                    .map_err(|e| format!("creating role {role}: {}", pg_err(&e)))?;
            }
        }
        for (db, kind, role, privileges) in [
            (
                MOVIES_DB,
                Database::Movies,
                MOVIES_ROLE.0,
                "SELECT, INSERT, UPDATE, DELETE",
            ),
            (ORDERS_DB, Database::Orders, ORDERS_ROLE.0, "SELECT, INSERT"),
        ] {
            // One statement per call: DROP/CREATE DATABASE refuse to run in a transaction.
            for sql in [
                format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                format!("CREATE DATABASE {db}"),
                format!("REVOKE ALL ON DATABASE {db} FROM PUBLIC"),
                format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
            ] {
                admin
                    .batch_execute(&sql)
                    .await
                    .map_err(|e| format!("{sql}: {}", pg_err(&e)))?;
            }
            let mut client = self.connect(&self.admin(db)).await?;
            migrate::apply(&mut client, kind)
                .await
                .map_err(|e| format!("migrating {db}: {}", pg_err(&e)))?;
            client
                .batch_execute(&format!(
                    "GRANT USAGE ON SCHEMA public TO {role};
                     GRANT {privileges} ON ALL TABLES IN SCHEMA public TO {role};
                     REVOKE ALL ON schema_migrations FROM {role};
                     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
                ))
                .await
                .map_err(|e| format!("granting {db}: {}", pg_err(&e)))?;
        }
        let movies = self.connect(&self.admin(MOVIES_DB)).await?;
        movies
            .batch_execute(&format!(
                "INSERT INTO movies (title, description)
                   SELECT 'Bench movie ' || g, 'Seeded by make bench, number ' || g
                     FROM generate_series(1, {SEED_MOVIES}) g;
                 CREATE TABLE bench_reference (id bigserial PRIMARY KEY, v text NOT NULL);"
            ))
            .await
            .map_err(|e| format!("seeding movies: {}", pg_err(&e)))?;
        movies
            .batch_execute("VACUUM ANALYZE movies")
            .await
            .map_err(|e| format!("vacuum: {}", pg_err(&e)))?;
        Ok(())
    }

    /// Drops the run's databases.
    pub async fn drop_databases(&self) -> Result<(), String> {
        let admin = self.connect(&self.admin("postgres")).await?;
        for db in [MOVIES_DB, ORDERS_DB] {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .await
                .map_err(|e| pg_err(&e))?;
        }
        Ok(())
    }
}

/// The server's message, which `tokio_postgres::Error`'s `Display` leaves out.
pub fn pg_err(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The run's own Cognito user pool on moto, set up as `make dev` sets up its own
/// (`local_gateway::localaws`), and the access token `InitiateAuth` gives its user `user`.
pub struct Cognito {
    pub pool_id: String,
    pub client_id: String,
    pub access_token: String,
    aws: LocalAws,
}

impl Cognito {
    pub async fn create(run_id: &str) -> Result<Self, String> {
        let mut settings = Settings::from_env();
        settings.state_dir = std::env::temp_dir().join(format!("bench-{run_id}"));
        settings.pool_name = format!("bench-{run_id}");
        let aws = LocalAws::new(settings);
        let pool = aws.setup_cognito().await.map_err(|e| e.to_string())?;
        let access_token = aws
            .token("user", TokenKind::Access)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            pool_id: pool.pool_id,
            client_id: pool.client_id,
            access_token,
            aws,
        })
    }

    /// Deletes the pool and the run's state dir (best effort).
    pub async fn delete(&self) {
        let _ = self.aws.delete_pool(&self.pool_id).await;
        let _ = std::fs::remove_dir_all(&self.aws.settings.state_dir);
    }
}

/// The SQS dead-letter queue the consumer is configured with.
pub async fn dead_letter_queue(name: &str) -> Result<String, String> {
    LocalAws::from_env()
        .create_dead_letter_queue(name)
        .await
        .map_err(|e| e.to_string())
}

/// A Secrets Manager secret holding `{username, password}`, as RDS stores it; returns its ARN.
pub async fn credentials_secret(name: &str, role: (&str, &str)) -> Result<String, String> {
    let value = serde_json::json!({"username": role.0, "password": role.1}).to_string();
    LocalAws::from_env()
        .create_secret(name, &value)
        .await
        .map_err(|e| e.to_string())
}
