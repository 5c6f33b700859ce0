//! The catalogue as its users expect it, against a real PostgreSQL database of its own: the newest
//! first with a cursor that stays stable under concurrent writes, writes for editors only, and a
//! title search that uses the trigram index whatever plan the server caches.

use std::collections::BTreeSet;

use database::migrate::Database;
use http_edge::auth::AccessPolicy;
use integration_tests::{ADMIN, TestDb, USER, VIEWER, call};
use serde_json::{Value, json};

const ADMIN_SCOPE: &str = "crud-master/movies.admin";
const MACHINE: &str = "machine-client";

async fn app() -> (TestDb, axum::Router) {
    let db = TestDb::new(Database::Movies).await;
    let router = AccessPolicy::with_scope(ADMIN_SCOPE, MACHINE)
        .unwrap()
        .attach(integration_tests::inventory_app(db.db.clone()));
    (db, router)
}

fn ids(page: &Value) -> Vec<i64> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect()
}

/// The next page's path from the `Link` header, if any.
fn next(reply: &integration_tests::Reply) -> Option<String> {
    let link = reply.headers.get("link")?.to_str().unwrap().to_owned();
    Some(link[1..link.find('>').unwrap()].to_owned())
}

/// `n` movies titled `<prefix> <i>`, inserted in one statement (ids ascending with `i`).
async fn seed(db: &TestDb, prefix: &str, n: i64) {
    db.client()
        .await
        .execute(
            "INSERT INTO movies (title) SELECT $1 || ' ' || g FROM generate_series(1, $2::bigint) g",
            &[&prefix, &n],
        )
        .await
        .unwrap();
}

/// A machine-client access token's request context with `scope` (client credentials).
fn machine(scope: &str) -> lambda_http::request::RequestContext {
    integration_tests::request::request_context(
        json!({"sub": MACHINE, "client_id": MACHINE, "scope": scope, "token_use": "access"}),
    )
}

async fn call_as(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&str>,
    ctx: lambda_http::request::RequestContext,
) -> integration_tests::Reply {
    integration_tests::call_with(app, method, uri, body, &[], Some(ctx)).await
}

#[tokio::test]
async fn the_newest_movie_comes_first_even_in_a_large_catalogue() {
    let (db, app) = app().await;
    seed(&db, "old", 150).await;
    let created = call(
        &app,
        "POST",
        "/api/movies/",
        Some(r#"{"title":"Just added"}"#),
        USER,
    )
    .await;
    assert_eq!(created.status, 200);
    let page = call(&app, "GET", "/api/movies/", None, USER).await;
    let first = ids(&page.json);
    assert_eq!(first.len(), 100, "the default page");
    assert_eq!(first[0], created.json["id"].as_i64().unwrap());
    assert!(first.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(next(&page).is_some());
}

/// Paging while other callers add and delete movies: every movie that was there before the
/// first page and is not deleted is seen exactly once, in strictly descending order, and what
/// was added meanwhile (newer than the cursor) does not push rows between pages.
#[tokio::test]
async fn the_cursor_pages_stably_under_concurrent_inserts_and_deletes() {
    let (db, app) = app().await;
    seed(&db, "film", 300).await;
    let before: BTreeSet<i64> = ids(&call(&app, "GET", "/api/movies?limit=500", None, USER)
        .await
        .json)
    .into_iter()
    .collect();
    assert_eq!(before.len(), 300);

    let writer = {
        let app = app.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let r = call(
                    &app,
                    "POST",
                    "/api/movies",
                    Some(&json!({"title": format!("film new {i}")}).to_string()),
                    USER,
                )
                .await;
                assert_eq!(r.status, 200);
                tokio::task::yield_now().await;
            }
        })
    };
    // Deleted while paging: the oldest ten, which the walk reaches last.
    let doomed: Vec<i64> = before.iter().take(10).copied().collect();
    let mut uri = Some("/api/movies?limit=7".to_owned());
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(path) = uri {
        let page = call(&app, "GET", &path, None, USER).await;
        assert_eq!(page.status, 200, "{}", page.json);
        seen.extend(ids(&page.json));
        uri = next(&page);
        pages += 1;
        if pages == 3 {
            for id in &doomed {
                let r = call(&app, "DELETE", &format!("/api/movies/{id}"), None, USER).await;
                assert_eq!(r.status, 200);
            }
        }
        assert!(pages < 200, "the walk ends");
    }
    writer.await.unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly descending: no repeat"
    );
    let seen_old: BTreeSet<i64> = seen
        .iter()
        .copied()
        .filter(|id| before.contains(id))
        .collect();
    let expected: BTreeSet<i64> = before
        .iter()
        .copied()
        .filter(|id| !doomed.contains(id))
        .collect();
    assert_eq!(seen_old, expected, "every movie still there, exactly once");
}

#[tokio::test]
async fn readers_read_editors_change_single_movies_and_only_admins_delete_all() {
    let (_db, app) = app().await;
    let created = call(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":"Alien"}"#),
        USER,
    )
    .await;
    assert_eq!(created.status, 200, "the default user is an editor");
    let id = created.json["id"].as_i64().unwrap();
    let one = format!("/api/movies/{id}");

    // A viewer reads, and every write is a 403 problem, whatever the body.
    assert_eq!(
        call(&app, "GET", "/api/movies", None, VIEWER).await.status,
        200
    );
    assert_eq!(call(&app, "GET", &one, None, VIEWER).await.status, 200);
    for (method, uri, body) in [
        ("POST", "/api/movies", Some(r#"{"title":"X"}"#)),
        ("POST", "/api/movies", Some(r#"{"title":""}"#)),
        ("PUT", one.as_str(), Some(r#"{"title":"X"}"#)),
        ("PUT", "/api/movies/999999", Some(r#"{"title":"X"}"#)),
        ("DELETE", one.as_str(), None),
        ("DELETE", "/api/movies", None),
    ] {
        let r = call(&app, method, uri, body, VIEWER).await;
        r.assert_problem(403);
        assert!(
            r.json["detail"].as_str().unwrap().contains("editors")
                || r.json["detail"].as_str().unwrap().contains("admin"),
            "{method} {uri}: {}",
            r.json
        );
    }
    assert_eq!(
        call(&app, "GET", &one, None, VIEWER).await.json["title"],
        "Alien"
    );

    // An editor changes and deletes single movies, but not the whole catalogue.
    let r = call(&app, "PUT", &one, Some(r#"{"title":"Aliens"}"#), USER).await;
    assert_eq!(r.json["title"], "Aliens");
    call(&app, "DELETE", "/api/movies", None, USER)
        .await
        .assert_problem(403);

    // The machine client: the write scope edits, the read scope only reads, the admin scope
    // deletes all; the same scope from another client counts for nothing.
    let write = "crud-master/movies.write";
    let r = call_as(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":"M"}"#),
        machine(write),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.json);
    let read = machine("crud-master/movies.read");
    call_as(&app, "POST", "/api/movies", Some(r#"{"title":"M"}"#), read)
        .await
        .assert_problem(403);
    let stranger = integration_tests::request::request_context(
        json!({"sub": "s", "client_id": "someone-else", "scope": write}),
    );
    call_as(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":"M"}"#),
        stranger,
    )
    .await
    .assert_problem(403);
    call_as(&app, "DELETE", "/api/movies", None, machine(write))
        .await
        .assert_problem(403);

    let r = call(&app, "DELETE", &one, None, USER).await;
    assert_eq!(r.status, 200);
    let r = call(&app, "DELETE", "/api/movies", None, ADMIN).await;
    assert_eq!((r.status, r.json), (200, json!({"deleted": 1})));
}

/// The search statement against the obvious one (every match, newest first), for patterns that
/// are common, rare and in between (a page from the first window, from larger ones, from the
/// trigram index, or the walk reaching the oldest movie), from cursors near the top and the end.
#[tokio::test]
async fn search_returns_what_a_full_scan_returns() {
    let (db, app) = app().await;
    seed(&db, "movie", 2500).await;
    let client = db.client().await;
    client
        .batch_execute(
            "UPDATE movies SET title = 'Rare gem ' || id WHERE id % 700 = 3;
             UPDATE movies SET title = title || ' noir' WHERE id % 9 = 0;",
        )
        .await
        .unwrap();
    let max: i64 = client
        .query_one("SELECT max(id) FROM movies", &[])
        .await
        .unwrap()
        .get(0);
    for title in [
        "movie", "rare gem", "noir", "movie 24", "1", "absent", "e 2",
    ] {
        for cursor in [
            None,
            Some(max - 10),
            Some(max - 999),
            Some(max - 1500),
            Some(5),
        ] {
            for limit in [1i64, 7, 100] {
                let mut uri = format!(
                    "/api/movies?title={}&limit={limit}",
                    title.replace(' ', "%20")
                );
                if let Some(c) = cursor {
                    uri.push_str(&format!("&cursor={c}"));
                }
                let got = ids(&call(&app, "GET", &uri, None, USER).await.json);
                let want: Vec<i64> = client
                    .query(
                        "SELECT id FROM movies WHERE title ILIKE '%' || $1 || '%' AND id < $2
                         ORDER BY id DESC LIMIT $3",
                        &[&title, &cursor.unwrap_or(i64::MAX), &limit],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert_eq!(got, want, "{uri}");
            }
        }
    }
}

/// The plans a server caches for the search cannot walk the primary key testing every row, nor
/// read the table sequentially: the walk reads a bounded window down the primary key, and the
/// statement that runs for rare patterns reads the trigram index and not the key, with
/// statistics that lag behind a burst of inserts and with fresh ones, whatever the session's
/// plan mode. The plans are the ones PostgreSQL runs inside `search_movies` (its nested
/// statements, shown by auto_explain), each mode in a session of its own since PL/pgSQL keeps a
/// statement's plan for the session.
#[tokio::test]
async fn search_uses_the_trigram_index_whatever_plan_the_server_picks() {
    let db = TestDb::new(Database::Movies).await;
    db.client()
        .await
        .batch_execute("ANALYZE movies")
        .await
        .unwrap();
    // Statistics from the empty table, then a burst.
    seed(&db, "movie", 30_000).await;
    for stats in ["stale", "fresh"] {
        if stats == "fresh" {
            db.client()
                .await
                .batch_execute("ANALYZE movies")
                .await
                .unwrap();
        }
        for mode in ["force_generic_plan", "force_custom_plan"] {
            for pattern in ["%zz rare%", "%movie%"] {
                let plans = nested_plans(&db, mode, pattern).await;
                let at = format!(
                    "{stats} statistics, {mode}, {pattern}:\n{}",
                    plans.join("\n")
                );
                assert!(
                    plans[0].contains("Index Scan Backward using movies_pkey"),
                    "the walk comes first, down the primary key; {at}"
                );
                for plan in &plans {
                    assert!(!plan.contains("Seq Scan on movies"), "{at}");
                    assert!(
                        !(plan.contains("movies_pkey") && plan.contains("movies_title_trgm")),
                        "a statement walks the key or reads the index, not both; {at}"
                    );
                }
                let index = plans
                    .iter()
                    .filter(|p| p.contains("Bitmap Index Scan on movies_title_trgm"))
                    .count();
                if pattern == "%movie%" {
                    assert_eq!(plans.len(), 1, "the first window fills the page; {at}");
                } else {
                    assert_eq!(index, 1, "the rest comes from the trigram index; {at}");
                }
            }
        }
    }
}

/// The plans of the statements inside `search_movies(pattern, ...)`, in the order they ran, in
/// a new session with `plan_cache_mode = mode`, as auto_explain reports them.
async fn nested_plans(db: &TestDb, mode: &str, pattern: &str) -> Vec<String> {
    use futures::StreamExt;
    let (client, mut connection) = db
        .settings
        .pg_config()
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    let (tx, mut notices) = tokio::sync::mpsc::unbounded_channel();
    let pump = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notice(n) = message {
                let _ = tx.send(n.message().to_owned());
            }
        }
    });
    client
        .batch_execute(&format!(
            "LOAD 'auto_explain';
             SET auto_explain.log_min_duration = 0;
             SET auto_explain.log_nested_statements = on;
             SET auto_explain.log_level = notice;
             SET client_min_messages = notice;
             SET plan_cache_mode = {mode};"
        ))
        .await
        .unwrap();
    client
        .query(
            "SELECT id FROM search_movies($1, $2, $3)",
            &[&pattern, &i64::MAX, &101i64],
        )
        .await
        .unwrap();
    drop(client);
    pump.await.unwrap();
    let mut plans = Vec::new();
    while let Ok(n) = notices.try_recv() {
        plans.push(n);
    }
    let nested: Vec<String> = plans
        .into_iter()
        .filter(|p| p.contains("movies") && !p.contains("Function Scan on search_movies"))
        .collect();
    assert!(
        !nested.is_empty(),
        "auto_explain reported no plan of the nested statements"
    );
    nested
}
