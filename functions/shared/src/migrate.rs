//! Versioned SQL migrations, embedded in the binary so the deploy-time `setup` function and
//! `make migrate` apply exactly the files in `migrations/`.

use tokio_postgres::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Movies,
    Orders,
}

impl Database {
    pub fn name(self) -> &'static str {
        match self {
            Self::Movies => "movies",
            Self::Orders => "orders",
        }
    }

    /// `(version, sql)` in the order they apply.
    pub fn migrations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Movies => &[
                (
                    "0001_create_movies",
                    include_str!("../../../migrations/movies/0001_create_movies.sql"),
                ),
                (
                    "0002_search_movies",
                    include_str!("../../../migrations/movies/0002_search_movies.sql"),
                ),
                (
                    "0003_search_movies_walk",
                    include_str!("../../../migrations/movies/0003_search_movies_walk.sql"),
                ),
            ],
            Self::Orders => &[
                (
                    "0001_create_orders",
                    include_str!("../../../migrations/orders/0001_create_orders.sql"),
                ),
                (
                    "0002_orders_owner_sub",
                    include_str!("../../../migrations/orders/0002_orders_owner_sub.sql"),
                ),
            ],
        }
    }
}

/// Applies the migrations not yet recorded in `schema_migrations`, each in its own
/// transaction, under an advisory lock so concurrent runs wait instead of racing.
/// Returns the versions it applied.
pub async fn apply(
    client: &mut Client,
    db: Database,
) -> Result<Vec<&'static str>, tokio_postgres::Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    text        PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let mut applied = Vec::new();
    for (version, sql) in db.migrations() {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock(7210411)", &[])
            .await?;
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        if !done {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version) VALUES ($1)",
                &[version],
            )
            .await?;
            applied.push(*version);
        }
        tx.commit().await?;
    }
    Ok(applied)
}
