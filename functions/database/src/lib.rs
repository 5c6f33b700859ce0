//! The PostgreSQL connection pool, built once per cold start and shared by every invocation.
//!
//! On AWS the pool talks to RDS Proxy over TLS (the proxy holds the real connections, so a
//! function keeps only one or two); locally it talks plain TCP to the private cluster on loopback.

pub mod migrate;

use std::path::PathBuf;
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_postgres::error::SqlState;

use secrets::SecretSource;
use settings::{ConfigError, Credentials, Env, ExposeSecret};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Require,
}

/// Where and how to connect. Built from the environment by [`DbSettings::from_env`].
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub credentials: Credentials,
    pub tls: TlsMode,
    /// PEM bundle to trust (the RDS CA bundle); the public web roots when absent, which
    /// include the Amazon roots that sign RDS Proxy's certificates.
    pub ca_file: Option<PathBuf>,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub query_timeout: Duration,
}

impl DbSettings {
    /// Reads `DATABASE_*`. Credentials come from `DATABASE_SECRET_ARN` when set, else from
    /// `DATABASE_USER` / `DATABASE_PASSWORD`.
    pub async fn from_env(env: &impl Env, secrets: &SecretSource) -> Result<Self, ConfigError> {
        let credentials = secrets
            .credentials(
                env,
                "DATABASE_SECRET_ARN",
                "DATABASE_USER",
                "DATABASE_PASSWORD",
            )
            .await?;
        Self::from_env_with(env, &env.required("DATABASE_NAME")?, credentials)
    }

    /// Where and how to connect (`DATABASE_HOST`, `_PORT`, `_TLS`, `_CA_FILE`, pool size and time
    /// budgets), for database `dbname` as `credentials`: the deploy-time setup connects as the
    /// master user to several databases with the same rules.
    pub fn from_env_with(
        env: &impl Env,
        dbname: &str,
        credentials: Credentials,
    ) -> Result<Self, ConfigError> {
        let host = env.required("DATABASE_HOST")?;
        let loopback = host == "localhost" || host.starts_with("127.") || host == "::1";
        let tls = match env.optional("DATABASE_TLS").as_deref() {
            None if loopback => TlsMode::Disable,
            None | Some("require") => TlsMode::Require,
            Some("disable") => TlsMode::Disable,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "DATABASE_TLS".into(),
                    reason: format!("{other:?} is neither \"require\" nor \"disable\""),
                });
            }
        };
        Ok(Self {
            host,
            port: env.parse_or("DATABASE_PORT", 5432)?,
            dbname: dbname.into(),
            credentials,
            tls,
            ca_file: env.optional("DATABASE_CA_FILE").map(PathBuf::from),
            pool_size: env.parse_or("DATABASE_POOL_SIZE", 2)?,
            connect_timeout: Duration::from_millis(
                env.parse_or("DATABASE_CONNECT_TIMEOUT_MS", 3000)?,
            ),
            query_timeout: Duration::from_millis(env.parse_or("DATABASE_QUERY_TIMEOUT_MS", 5000)?),
        })
    }

    /// Plain settings for a loopback database, as tests and local tools use them.
    pub fn local(host: &str, port: u16, dbname: &str, user: &str, password: &str) -> Self {
        Self {
            host: host.into(),
            port,
            dbname: dbname.into(),
            credentials: Credentials {
                username: user.into(),
                password: settings::SecretString::from(password),
            },
            tls: TlsMode::Disable,
            ca_file: None,
            pool_size: 4,
            connect_timeout: Duration::from_secs(2),
            query_timeout: Duration::from_secs(5),
        }
    }

    pub fn pg_config(&self) -> tokio_postgres::Config {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .dbname(&self.dbname)
            .user(&self.credentials.username)
            .password(self.credentials.password.expose_secret())
            .application_name("crud-master")
            .connect_timeout(self.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(self.query_timeout)
            .ssl_mode(match self.tls {
                TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
                TlsMode::Require => tokio_postgres::config::SslMode::Require,
            });
        cfg
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or is restarting: callers answer 503 and retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Unavailable),
    /// Anything else the server rejected: a bug or a constraint, not a reason to retry.
    #[error("database error: {0}")]
    Query(#[source] tokio_postgres::Error),
    #[error("database setup failed: {0}")]
    Setup(#[source] SetupError),
}

/// Why the database is unavailable.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// No answer at all (I/O, closed connection) or a transient refusal (shutting down, too
    /// many connections, query cancelled).
    #[error(transparent)]
    Postgres(tokio_postgres::Error),
    /// The pool had no connection to give in time, or could not open one.
    #[error(transparent)]
    Pool(PoolError),
    /// The operation did not finish within the query time budget.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// Why the pool could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Pool(deadpool_postgres::BuildError),
    #[error("reading {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{}: {source}", path.display())]
    Certificate {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

impl DbError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let transient = match e.code() {
            None => true, // I/O, closed connection, timeout: no server answer at all
            Some(code) => {
                code.code().starts_with("08") // connection exception
                    || code.code().starts_with("57P") // admin shutdown, cannot connect now
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::QUERY_CANCELED
            }
        };
        if transient {
            Self::Unavailable(Unavailable::Postgres(e))
        } else {
            Self::Query(e)
        }
    }
}

impl From<PoolError> for DbError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(pg) => pg.into(),
            other => Self::Unavailable(Unavailable::Pool(other)),
        }
    }
}

/// A cloneable handle to the pool plus the per-query time budget.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    query_timeout: Duration,
}

impl Db {
    /// Builds the pool without connecting: the first query connects, so a cold start does
    /// not fail when the database is briefly away, and the pool heals when it returns.
    pub fn new(settings: &DbSettings) -> Result<Self, DbError> {
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let pg = settings.pg_config();
        let manager = match settings.tls {
            TlsMode::Disable => Manager::from_config(pg, tokio_postgres::NoTls, manager_config),
            TlsMode::Require => {
                Manager::from_config(pg, make_tls(settings.ca_file.as_ref())?, manager_config)
            }
        };
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(settings.connect_timeout))
            .create_timeout(Some(settings.connect_timeout))
            .recycle_timeout(Some(settings.connect_timeout))
            .build()
            .map_err(|e| DbError::Setup(SetupError::Pool(e)))?;
        Ok(Self {
            pool,
            query_timeout: settings.query_timeout,
        })
    }

    pub async fn client(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// Runs one database operation within the query time budget, so a hung database
    /// becomes a 503 instead of a hung request.
    pub async fn timed<T, F>(&self, fut: F) -> Result<T, DbError>
    where
        F: std::future::Future<Output = Result<T, DbError>>,
    {
        match tokio::time::timeout(self.query_timeout, fut).await {
            Ok(result) => result,
            Err(_) => Err(DbError::Unavailable(Unavailable::Timeout(
                self.query_timeout,
            ))),
        }
    }

    /// `SELECT 1`: the health check and the benchmark reference round trip.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.timed(async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }
}

/// The TLS connector: trusts `ca_file` (PEM) when given, else the public web roots.
fn make_tls(
    ca_file: Option<&PathBuf>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
    settings::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let setup = DbError::Setup;
            let pem = std::fs::read(path).map_err(|source| {
                setup(SetupError::CaFile {
                    path: path.clone(),
                    source,
                })
            })?;
            // rustls-pki-types' PEM reader (rustls-pemfile is unmaintained, RUSTSEC-2025-0134).
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|source| {
                    setup(SetupError::Pem {
                        path: path.clone(),
                        source,
                    })
                })?;
                roots.add(cert).map_err(|source| {
                    setup(SetupError::Certificate {
                        path: path.clone(),
                        source,
                    })
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_or_slow_database_is_unavailable_with_its_cause() {
        // A port nothing listens on once the listener is dropped.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut settings = DbSettings::local("127.0.0.1", port, "orders", "u", "p");
        settings.connect_timeout = Duration::from_secs(2);
        settings.query_timeout = Duration::from_millis(50);
        let db = Db::new(&settings).unwrap();
        let err = db.client().await.map(|_| ()).unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            matches!(
                &err,
                DbError::Unavailable(Unavailable::Pool(_) | Unavailable::Postgres(_))
            ),
            "{err:?}"
        );
        assert!(std::error::Error::source(&err).is_some(), "keeps the cause");
        assert!(
            err.to_string().starts_with("database unavailable: "),
            "{err}"
        );

        let err = db
            .timed(std::future::pending::<Result<(), DbError>>())
            .await
            .unwrap_err();
        assert!(
            matches!(err, DbError::Unavailable(Unavailable::Timeout(t)) if t == settings.query_timeout),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "database unavailable: no answer within 50 ms"
        );
    }

    #[tokio::test]
    async fn settings_pick_tls_by_host_and_explicit_mode() {
        let secrets = SecretSource::new(&[("", "")]);
        let env = [
            ("DATABASE_HOST", "127.0.0.1"),
            ("DATABASE_NAME", "movies"),
            ("DATABASE_USER", "u"),
            ("DATABASE_PASSWORD", "p"),
        ];
        let s = DbSettings::from_env(&env, &secrets).await.unwrap();
        assert_eq!(s.tls, TlsMode::Disable);
        assert_eq!(s.port, 5432);

        let env = [
            ("DATABASE_HOST", "proxy.example"),
            ("DATABASE_NAME", "movies"),
            ("DATABASE_USER", "u"),
            ("DATABASE_PASSWORD", "p"),
        ];
        let s = DbSettings::from_env(&env, &secrets).await.unwrap();
        assert_eq!(s.tls, TlsMode::Require);
        assert!(Db::new(&s).is_ok(), "TLS pool builds with the web roots");

        // The explicit mode wins over the host in both directions; anything else is refused.
        for (host, mode, expected) in [
            ("127.0.0.1", "require", TlsMode::Require),
            ("proxy.example", "disable", TlsMode::Disable),
        ] {
            let env = [
                ("DATABASE_HOST", host),
                ("DATABASE_NAME", "movies"),
                ("DATABASE_USER", "u"),
                ("DATABASE_PASSWORD", "p"),
                ("DATABASE_TLS", mode),
            ];
            let s = DbSettings::from_env(&env, &secrets).await.unwrap();
            assert_eq!(s.tls, expected, "{host} with DATABASE_TLS={mode}");
        }
        let env = [
            ("DATABASE_HOST", "127.0.0.1"),
            ("DATABASE_NAME", "movies"),
            ("DATABASE_USER", "u"),
            ("DATABASE_PASSWORD", "p"),
            ("DATABASE_TLS", "prefer"),
        ];
        let err = DbSettings::from_env(&env, &secrets).await.unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name, .. } if name == "DATABASE_TLS"),
            "{err:?}"
        );

        let env = [("DATABASE_HOST", "h"), ("DATABASE_NAME", "m")];
        let err = DbSettings::from_env(&env, &secrets).await.unwrap_err();
        assert_eq!(err, ConfigError::Missing("DATABASE_USER".into()));
    }
}
