//! The deploy-time setup against the real cluster: idempotent, and the application roles get
//! exactly the privileges their functions need.

use integration_tests::{amqp_url, connect_as, pg_host, pg_password, pg_port, pg_user};

/// Databases of the test's own (dropped by scripts/drop-test-databases.sh once it has exited),
/// so setup's checks neither read nor write the developer's `movies` and `orders`.
fn database(kind: &str) -> String {
    format!("t_{}_setup_{kind}", std::process::id())
}

fn config() -> [(&'static str, String); 13] {
    [
        ("MOVIES_DB", database("movies")),
        ("ORDERS_DB", database("orders")),
        ("ORDERS_READER_USER", "orders_reader".into()),
        (
            "ORDERS_READER_PASSWORD",
            "orders-reader-local-password".into(),
        ),
        ("DATABASE_HOST", pg_host()),
        ("DATABASE_PORT", pg_port().to_string()),
        ("DATABASE_MASTER_USER", pg_user()),
        ("DATABASE_MASTER_PASSWORD", pg_password()),
        ("MOVIES_DB_USER", "movies_app".into()),
        ("MOVIES_DB_PASSWORD", "movies-local-password".into()),
        ("ORDERS_DB_USER", "orders_app".into()),
        ("ORDERS_DB_PASSWORD", "orders-local-password".into()),
        ("AMQP_URL", amqp_url()),
    ]
}

async fn as_role(db: &str, user: &str, password: &str) -> tokio_postgres::Client {
    connect_as(db, user, password).await.unwrap()
}

#[tokio::test]
async fn setup_is_idempotent_and_grants_least_privilege() {
    settings::install_crypto_provider();
    let env: std::collections::HashMap<String, String> = config()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let cfg =
        setup::SetupConfig::from_env(&env, &secrets::SecretSource::new(&settings::ProcessEnv))
            .await
            .unwrap();
    setup::run(&cfg).await.unwrap();
    let again = setup::run(&cfg).await.unwrap();
    assert!(
        again.created_databases.is_empty() && again.applied_migrations.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.declared_queue.as_deref(), Some("billing_queue"));

    let movies = as_role(&database("movies"), "movies_app", "movies-local-password").await;
    let id: i64 = movies
        .query_one(
            "INSERT INTO movies (title) VALUES ('setup test') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    movies
        .execute("UPDATE movies SET description = 'x' WHERE id = $1", &[&id])
        .await
        .unwrap();
    movies
        .execute("DELETE FROM movies WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert!(
        movies
            .batch_execute("CREATE TABLE sneaky (a int)")
            .await
            .is_err(),
        "no DDL"
    );
    assert!(
        movies
            .batch_execute("SELECT * FROM schema_migrations")
            .await
            .is_err()
    );

    let orders = as_role(&database("orders"), "orders_app", "orders-local-password").await;
    let message_id = uuid::Uuid::new_v4();
    orders
        .execute(
            "INSERT INTO orders (message_id, user_id, number_of_items, total_amount) VALUES ($1, 1, 1, 1.00)",
            &[&message_id],
        )
        .await
        .unwrap();
    assert!(
        orders
            .batch_execute("UPDATE orders SET user_id = 2")
            .await
            .is_err(),
        "orders are append-only"
    );
    assert!(
        orders.batch_execute("DELETE FROM orders").await.is_err(),
        "orders are append-only"
    );
    let cross = connect_as(&database("orders"), "movies_app", "movies-local-password").await;
    assert!(
        cross.is_err(),
        "movies_app cannot even connect to the orders database"
    );

    // billing-api's role reads orders and nothing else.
    let reader = as_role(
        &database("orders"),
        "orders_reader",
        "orders-reader-local-password",
    )
    .await;
    let seen: i64 = reader
        .query_one(
            "SELECT count(*) FROM orders WHERE message_id = $1",
            &[&message_id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1);
    for write in [
        "INSERT INTO orders (message_id, user_id, number_of_items, total_amount) VALUES (gen_random_uuid(), 1, 1, 1.00)",
        "UPDATE orders SET user_id = 2",
        "DELETE FROM orders",
        "SELECT * FROM schema_migrations",
    ] {
        let refused = reader.batch_execute(write).await.unwrap_err();
        assert_eq!(
            refused.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{write}"
        );
    }
    let movies_db = connect_as(
        &database("movies"),
        "orders_reader",
        "orders-reader-local-password",
    )
    .await;
    assert!(movies_db.is_err(), "the reader cannot connect to movies");
}
