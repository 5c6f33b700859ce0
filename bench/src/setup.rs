//! What a run needs, created fresh each time so figures never depend on leftovers: its own
//! `bench_movies` / `bench_orders` databases (migrated, granted to the application roles that
//! `make migrate` creates), a Cognito user pool with a user and a token, an SQS dead-letter
//! queue and a Secrets Manager secret on moto, and its own RabbitMQ queue.

use serde_json::{Value, json};
use shared::db::DbSettings;
use shared::migrate::{self, Database};

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

/// A JSON-protocol call to moto, as the AWS SDKs make it (moto does not check signatures,
/// only reads the region and service from the credential scope).
pub async fn aws_json(
    http: &reqwest::Client,
    svc: &Services,
    service: &str,
    target: &str,
    version: &str,
    body: Value,
) -> Result<Value, String> {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{}/{service}/aws4_request, SignedHeaders=host, Signature=00",
        svc.region
    );
    let response = http
        .post(format!("{}/", svc.aws_endpoint.trim_end_matches('/')))
        .header("X-Amz-Target", target)
        .header("Content-Type", format!("application/x-amz-json-{version}"))
        .header("Authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("{target}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{target}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{target}: {e}: {text}"))
}

/// A Cognito user pool, app client and user on moto, and the user's access token (what
/// `InitiateAuth` gives a real user).
#[derive(Debug, Clone)]
pub struct Cognito {
    pub pool_id: String,
    pub client_id: String,
    pub access_token: String,
}

impl Cognito {
    pub async fn create(http: &reqwest::Client, svc: &Services) -> Result<Self, String> {
        let call = |target: &str, body: Value| {
            let target = format!("AWSCognitoIdentityProviderService.{target}");
            async move { aws_json(http, svc, "cognito-idp", &target, "1.1", body).await }
        };
        let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
        let pool = call("CreateUserPool", json!({"PoolName": name})).await?;
        let pool_id = str_at(&pool, &["UserPool", "Id"])?;
        let client = call(
            "CreateUserPoolClient",
            json!({"UserPoolId": pool_id, "ClientName": "bench",
                   "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
        )
        .await?;
        let client_id = str_at(&client, &["UserPoolClient", "ClientId"])?;
        let password = format!("Bench-{}-1!", uuid::Uuid::new_v4().simple());
        call(
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "bench", "MessageAction": "SUPPRESS",
                   "TemporaryPassword": password}),
        )
        .await?;
        call(
            "AdminSetUserPassword",
            json!({"UserPoolId": pool_id, "Username": "bench", "Password": password, "Permanent": true}),
        )
        .await?;
        let auth = call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                   "AuthParameters": {"USERNAME": "bench", "PASSWORD": password}}),
        )
        .await?;
        let access_token = str_at(&auth, &["AuthenticationResult", "AccessToken"])?;
        Ok(Self {
            pool_id,
            client_id,
            access_token,
        })
    }

    pub async fn delete(&self, http: &reqwest::Client, svc: &Services) {
        let _ = aws_json(
            http,
            svc,
            "cognito-idp",
            "AWSCognitoIdentityProviderService.DeleteUserPool",
            "1.1",
            json!({"UserPoolId": self.pool_id}),
        )
        .await;
    }
}

/// The SQS dead-letter queue the consumer is configured with.
pub async fn dead_letter_queue(
    http: &reqwest::Client,
    svc: &Services,
    name: &str,
) -> Result<String, String> {
    let out = aws_json(
        http,
        svc,
        "sqs",
        "AmazonSQS.CreateQueue",
        "1.0",
        json!({"QueueName": name}),
    )
    .await?;
    str_at(&out, &["QueueUrl"])
}

/// A Secrets Manager secret holding `{username, password}`, as RDS stores it; returns its ARN.
pub async fn credentials_secret(
    http: &reqwest::Client,
    svc: &Services,
    name: &str,
    role: (&str, &str),
) -> Result<String, String> {
    let value = json!({"username": role.0, "password": role.1}).to_string();
    let out = aws_json(
        http,
        svc,
        "secretsmanager",
        "secretsmanager.CreateSecret",
        "1.1",
        json!({"Name": name, "SecretString": value}),
    )
    .await?;
    str_at(&out, &["ARN"])
}

fn str_at(v: &Value, path: &[&str]) -> Result<String, String> {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no {} in {v}", path.join(".")))
}
