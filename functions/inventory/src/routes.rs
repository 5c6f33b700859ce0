//! HTTP handlers. Authentication happened at the gateway (JWT authorizer); the `Principal`
//! extractor reads its verified claims, and the admin rule is decided here.

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use database::Db;
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};
use http_edge::Problem;
use http_edge::auth::Principal;
use http_edge::extract::{JsonBody, PathParam};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::json;
use telemetry::metrics::Metrics;

use crate::domain::{CreateBody, ListQuery, MovieId, MoviePatch, NewMovie, UpdateBody};
use crate::error::ApiError;
use crate::repo::{self, Movie};

pub use http_edge::problem::BODY_LIMIT;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(db: Db, metrics: Metrics) -> Self {
        Self { db, metrics }
    }
}

/// The function's routes; one trailing slash is ignored (`http_edge::trailing_slash`).
pub fn router(state: AppState) -> Router {
    http_edge::trailing_slash::normalize(routes(state))
}

fn routes(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    let routes = Router::new()
        .route("/health", get(health))
        .route("/api/movies", get(list).post(create).delete(delete_all))
        .route(
            "/api/movies/{id}",
            get(get_one).put(update).delete(delete_one),
        )
        .fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    http_edge::api_error::count_db_errors(routes, metrics)
}

/// A caller who may change the catalogue (`http_edge::auth`: the `editors` or `admin` group, or
/// the machine client's write scope). Extracted before the body, so a reader learns nothing
/// about the body's validity: every write a reader attempts is a 403.
struct Editor(Principal);

impl<S: Send + Sync> FromRequestParts<S> for Editor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if principal.may_edit() {
            Ok(Self(principal))
        } else {
            Err(Problem::forbidden(
                "changing the catalogue needs the editors or admin group, or the movies.write scope of the machine client",
            ))
        }
    }
}

fn not_found(id: MovieId) -> ApiError {
    Problem::not_found(format!("movie {} does not exist", id.0)).into()
}

#[tracing::instrument(skip_all)]
async fn health(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(json!({"status": "ok", "database": "ok"})).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "degraded", "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = http_edge::problem::parse_query(raw.as_deref(), &["title", "limit", "cursor"])?;
    let query = ListQuery::try_from(params)?;
    let (movies, more) = repo::list(&state.db, &query).await?;
    let mut response = Json(&movies).into_response();
    if more && let Some(last) = movies.last() {
        let mut next = format!("/api/movies?limit={}&cursor={}", query.limit, last.id);
        if let Some(title) = &query.title {
            next.push_str("&title=");
            next.extend(utf8_percent_encode(title, NON_ALPHANUMERIC));
        }
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
    Ok(response)
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn create(
    State(state): State<AppState>,
    Editor(principal): Editor,
    JsonBody(raw): JsonBody<CreateBody>,
) -> Result<Json<Movie>, ApiError> {
    let movie = NewMovie::try_from(raw)?;
    let created = repo::create(&state.db, &movie).await?;
    state.metrics.count("MoviesCreated", 1);
    tracing::info!(id = created.id, "movie created");
    Ok(Json(created))
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn delete_all(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Response, ApiError> {
    if !principal.is_admin() {
        return Err(Problem::forbidden(
            "deleting every movie needs the admin group, or the admin scope of the machine client",
        )
        .into());
    }
    let deleted = repo::delete_all(&state.db).await?;
    state.metrics.count("MoviesDeleted", deleted as usize);
    tracing::info!(deleted, "all movies deleted");
    Ok(Json(json!({ "deleted": deleted })).into_response())
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam<MovieId>,
) -> Result<Json<Movie>, ApiError> {
    let movie = repo::get(&state.db, id).await?;
    movie.map(Json).ok_or_else(|| not_found(id))
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn update(
    State(state): State<AppState>,
    Editor(principal): Editor,
    // Extracted before the body: a bad id is reported whatever the body.
    PathParam(id): PathParam<MovieId>,
    body: Result<JsonBody<UpdateBody>, Problem>,
) -> Result<Json<Movie>, ApiError> {
    let JsonBody(raw) = body?;
    let patch = MoviePatch::try_from(raw)?;
    let movie = repo::update(&state.db, id, &patch).await?;
    movie.map(Json).ok_or_else(|| not_found(id))
}

#[tracing::instrument(skip_all, fields(principal = principal.label()))]
async fn delete_one(
    State(state): State<AppState>,
    Editor(principal): Editor,
    PathParam(id): PathParam<MovieId>,
) -> Result<Json<Movie>, ApiError> {
    let movie = repo::delete(&state.db, id).await?;
    if movie.is_some() {
        state.metrics.count("MoviesDeleted", 1);
    }
    movie.map(Json).ok_or_else(|| not_found(id))
}
