//! TLS to the database as on AWS (RDS Proxy requires it): the pool verifies the server against
//! the configured CA bundle (`DATABASE_CA_FILE`, as with the RDS CA bundle) and refuses a server
//! it cannot verify. Locally `scripts/services.sh` gives PostgreSQL a certificate from a private
//! CA, so this runs against the real server.

use database::{Db, DbSettings, TlsMode};
use integration_tests::{pg_host, pg_password, pg_port, pg_user};
use secrets::SecretSource;

fn ca_file() -> String {
    std::env::var("CRUD_PG_CA_FILE").expect("CRUD_PG_CA_FILE: run through make test")
}

#[tokio::test]
async fn tls_with_the_configured_ca_and_refused_without_it() {
    settings::install_crypto_provider();
    let port = pg_port().to_string();
    let (user, password, host, ca) = (pg_user(), pg_password(), pg_host(), ca_file());
    let env = [
        ("DATABASE_HOST", host.as_str()),
        ("DATABASE_PORT", port.as_str()),
        ("DATABASE_NAME", "postgres"),
        ("DATABASE_USER", user.as_str()),
        ("DATABASE_PASSWORD", password.as_str()),
        ("DATABASE_TLS", "require"),
        ("DATABASE_CA_FILE", ca.as_str()),
    ];
    let settings = DbSettings::from_env(&env, &SecretSource::new(&settings::ProcessEnv))
        .await
        .unwrap();
    assert_eq!(settings.tls, TlsMode::Require);
    let db = Db::new(&settings).unwrap();
    let client = db
        .client()
        .await
        .expect("TLS connection verified against the CA bundle");
    let encrypted: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(encrypted, "the session is encrypted");

    let mut untrusted = settings.clone();
    untrusted.ca_file = None; // the public roots do not know the private CA
    untrusted.connect_timeout = std::time::Duration::from_secs(2);
    let err = Db::new(&untrusted)
        .unwrap()
        .ping()
        .await
        .expect_err("an unverifiable server is refused");
    // The handshake itself fails (rustls: no trusted root issued the server's certificate), not
    // the TCP connection or the time budget: the same settings with the CA connected above.
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        err.to_string().contains("error performing TLS handshake"),
        "{err}"
    );
}
