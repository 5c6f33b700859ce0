//! The SQL, one function per statement.

use database::{Db, DbError};
use serde::Serialize;
use tokio_postgres::Row;

use crate::domain::{ListQuery, MovieId, MoviePatch, NewMovie};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Movie {
    pub id: i64,
    pub title: String,
    pub description: String,
}

impl From<&Row> for Movie {
    fn from(row: &Row) -> Self {
        Self {
            id: row.get(0),
            title: row.get(1),
            description: row.get(2),
        }
    }
}

/// The newest movies first: one page of ids below the cursor.
pub const LIST_SQL: &str =
    "SELECT id, title, description FROM movies WHERE id < $1 ORDER BY id DESC LIMIT $2";

/// `?title=` newest first: `search_movies` (migrations/movies/0003_search_movies_walk.sql says
/// how it stays fast whatever plan the server picks). Parameters: pattern, cursor, rows wanted.
/// The function emits newest first; the `ORDER BY` makes that a guarantee (a sort of one page).
pub const SEARCH_SQL: &str =
    "SELECT id, title, description FROM search_movies($1, $2, $3) ORDER BY id DESC";

/// Fetches one page plus one extra row, which tells whether a next page exists.
#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn list(db: &Db, q: &ListQuery) -> Result<(Vec<Movie>, bool), DbError> {
    db.timed(async {
        let client = db.client().await?;
        let fetch = q.limit + 1;
        let rows = match &q.title_pattern {
            Some(pattern) => {
                let stmt = client.prepare_cached(SEARCH_SQL).await?;
                client.query(&stmt, &[pattern, &q.before, &fetch]).await?
            }
            None => {
                let stmt = client.prepare_cached(LIST_SQL).await?;
                client.query(&stmt, &[&q.before, &fetch]).await?
            }
        };
        let more = rows.len() as i64 > q.limit;
        let movies = rows
            .iter()
            .take(q.limit as usize)
            .map(Movie::from)
            .collect();
        Ok((movies, more))
    })
    .await
}

/// Runs a statement that yields at most one movie row (a lookup, or a change `RETURNING` it).
async fn at_most_one(
    db: &Db,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Option<Movie>, DbError> {
    db.timed(async {
        let client = db.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client
            .query_opt(&stmt, params)
            .await?
            .as_ref()
            .map(Movie::from))
    })
    .await
}

#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn get(db: &Db, id: MovieId) -> Result<Option<Movie>, DbError> {
    at_most_one(
        db,
        "SELECT id, title, description FROM movies WHERE id = $1",
        &[&id.0],
    )
    .await
}

#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn create(db: &Db, movie: &NewMovie) -> Result<Movie, DbError> {
    db.timed(async {
        let client = db.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO movies (title, description) VALUES ($1, $2)
                 RETURNING id, title, description",
            )
            .await?;
        let row = client
            .query_one(&stmt, &[&movie.title.as_str(), &movie.description.as_str()])
            .await?;
        Ok(Movie::from(&row))
    })
    .await
}

#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn update(db: &Db, id: MovieId, patch: &MoviePatch) -> Result<Option<Movie>, DbError> {
    let title = patch.title.as_ref().map(|t| t.as_str());
    let description = patch.description.as_ref().map(|d| d.as_str());
    at_most_one(
        db,
        "UPDATE movies SET title = COALESCE($2, title),
                           description = COALESCE($3, description),
                           updated_at = now()
         WHERE id = $1 RETURNING id, title, description",
        &[&id.0, &title, &description],
    )
    .await
}

#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn delete(db: &Db, id: MovieId) -> Result<Option<Movie>, DbError> {
    at_most_one(
        db,
        "DELETE FROM movies WHERE id = $1 RETURNING id, title, description",
        &[&id.0],
    )
    .await
}

#[tracing::instrument(skip(db), err(level = "warn"))]
pub async fn delete_all(db: &Db) -> Result<u64, DbError> {
    db.timed(async {
        let client = db.client().await?;
        Ok(client.execute("DELETE FROM movies", &[]).await?)
    })
    .await
}
