//! Versioned SQL migrations, embedded in the binary so the deploy-time `setup` function and
//! `make migrate` apply exactly the files in `migrations/` (found at build time: `build.rs`).

use tokio_postgres::Client;

mod found {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

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

    /// `(version, sql)` in the order they apply: every `migrations/<name>/NNNN_*.sql`, by
    /// name, found by the build script (`build.rs`).
    pub fn migrations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::Movies => found::MOVIES,
            Self::Orders => found::ORDERS,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The build script found every `.sql` file of each database's directory, in name order.
    #[test]
    fn every_migration_file_is_found_in_order() {
        for db in [Database::Movies, Database::Orders] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../migrations")
                .join(db.name());
            let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
                .expect("migrations directory")
                .filter_map(|e| {
                    let path = e.expect("entry").path();
                    let version = path.file_name()?.to_str()?.strip_suffix(".sql")?.to_owned();
                    Some((version, std::fs::read_to_string(&path).expect("readable")))
                })
                .collect();
            on_disk.sort();
            let found: Vec<(String, String)> = db
                .migrations()
                .iter()
                .map(|(v, sql)| ((*v).to_owned(), (*sql).to_owned()))
                .collect();
            assert_eq!(found, on_disk, "{}", db.name());
        }
    }
}
