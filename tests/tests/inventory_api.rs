//! The movies API in-process (oneshot, no socket) against a real PostgreSQL database of its own.

use database::migrate::Database;
use integration_tests::{ADMIN, TestDb, USER, call};
use serde_json::json;
use telemetry::metrics::Metrics;

async fn app() -> (TestDb, axum::Router) {
    let db = TestDb::new(Database::Movies).await;
    let router = integration_tests::inventory_app(db.db.clone());
    (db, router)
}

#[tokio::test]
async fn crud_round_trip() {
    let (_db, app) = app().await;
    let created = call(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":" Alien ","description":"In space."}"#),
        USER,
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.json);
    let id = created.json["id"].as_i64().unwrap();
    assert_eq!(
        created.json,
        json!({"id": id, "title": "Alien", "description": "In space."})
    );

    let got = call(&app, "GET", &format!("/api/movies/{id}"), None, USER).await;
    assert_eq!(got.json, created.json);

    let updated = call(
        &app,
        "PUT",
        &format!("/api/movies/{id}"),
        Some(r#"{"description":"Remastered."}"#),
        USER,
    )
    .await;
    assert_eq!(updated.status, 200);
    assert_eq!(
        updated.json,
        json!({"id": id, "title": "Alien", "description": "Remastered."})
    );

    let renamed = call(
        &app,
        "PUT",
        &format!("/api/movies/{id}"),
        Some(r#"{"title":"Aliens"}"#),
        USER,
    )
    .await;
    assert_eq!(renamed.json["title"], "Aliens");
    assert_eq!(renamed.json["description"], "Remastered.");

    let deleted = call(&app, "DELETE", &format!("/api/movies/{id}"), None, USER).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.json["id"], id);
    call(&app, "GET", &format!("/api/movies/{id}"), None, USER)
        .await
        .assert_problem(404);
    call(&app, "DELETE", &format!("/api/movies/{id}"), None, USER)
        .await
        .assert_problem(404);
    call(
        &app,
        "PUT",
        &format!("/api/movies/{id}"),
        Some(r#"{"title":"x"}"#),
        USER,
    )
    .await
    .assert_problem(404);
}

/// The function's router itself ignores ONE trailing slash (API Gateway keeps it in `rawPath`),
/// so each route answers the same with it; two slashes are no route.
#[tokio::test]
async fn every_route_answers_the_same_with_one_trailing_slash() {
    let (_db, app) = app().await;
    let body = r#"{"title": "A new movie", "description": "Very short description"}"#;
    let created = call(&app, "POST", "/api/movies/", Some(body), USER).await;
    assert_eq!(created.status, 200, "{}", created.json);
    let id = created.json["id"].as_i64().unwrap();
    let list = call(&app, "GET", "/api/movies/?title=new", None, USER).await;
    assert_eq!((list.status, &list.json), (200, &json!([created.json])));
    let one = call(&app, "GET", &format!("/api/movies/{id}/"), None, USER).await;
    assert_eq!(one.json, created.json);
    let put = call(
        &app,
        "PUT",
        &format!("/api/movies/{id}/"),
        Some(r#"{"description":"x"}"#),
        USER,
    )
    .await;
    assert_eq!((put.status, &put.json["description"]), (200, &json!("x")));
    let del = call(&app, "DELETE", &format!("/api/movies/{id}/"), None, USER).await;
    assert_eq!(del.status, 200);
    let health = call(&app, "GET", "/health/", None, None).await;
    assert_eq!(health.status, 200, "{}", health.json);
    let wiped = call(&app, "DELETE", "/api/movies/", None, ADMIN).await;
    assert_eq!((wiped.status, &wiped.json), (200, &json!({"deleted": 0})));
    for uri in ["/api/movies//", "/api/movies/1//"] {
        assert_eq!(
            call(&app, "GET", uri, None, USER).await.status,
            404,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn description_defaults_to_empty() {
    let (_db, app) = app().await;
    let created = call(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":"Heat"}"#),
        USER,
    )
    .await;
    assert_eq!(created.status, 200);
    assert_eq!(created.json["description"], "");
}

#[tokio::test]
async fn title_filter_is_case_insensitive_and_literal() {
    let (_db, app) = app().await;
    for title in [
        "The Matrix",
        "the matrix reloaded",
        "100% Love",
        "100 Love",
        "snake_case",
        "snakeXcase",
        "back\\slash",
    ] {
        let r = call(
            &app,
            "POST",
            "/api/movies",
            Some(&json!({"title": title}).to_string()),
            USER,
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let titles = |r: &integration_tests::Reply| -> Vec<String> {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = call(&app, "GET", "/api/movies?title=MATRIX", None, USER).await;
    assert_eq!(
        titles(&r),
        vec!["the matrix reloaded", "The Matrix"],
        "newest first"
    );
    let r = call(&app, "GET", "/api/movies?title=100%25", None, USER).await;
    assert_eq!(titles(&r), vec!["100% Love"], "% is literal");
    let r = call(&app, "GET", "/api/movies?title=e_c", None, USER).await;
    assert_eq!(titles(&r), vec!["snake_case"], "_ is literal");
    let r = call(&app, "GET", "/api/movies?title=k%5Cs", None, USER).await;
    assert_eq!(titles(&r), vec!["back\\slash"], "backslash is literal");
    let r = call(
        &app,
        "GET",
        "/api/movies?title=%27%3B%20DROP%20TABLE%20movies%3B--",
        None,
        USER,
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(titles(&r).is_empty());
    assert_eq!(
        titles(&call(&app, "GET", "/api/movies", None, USER).await).len(),
        7,
        "table intact"
    );
}

#[tokio::test]
async fn listing_is_bounded_and_paginated_with_link() {
    let (_db, app) = app().await;
    for i in 0..7 {
        call(
            &app,
            "POST",
            "/api/movies",
            Some(&json!({"title": format!("Film {i}")}).to_string()),
            USER,
        )
        .await;
    }
    let mut uri = "/api/movies?limit=3&title=film".to_owned();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let page = call(&app, "GET", &uri, None, USER).await;
        assert_eq!(page.status, 200);
        let items = page.json.as_array().unwrap().clone();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|m| m["title"].as_str().unwrap().to_owned()),
        );
        match page.headers.get("link") {
            Some(link) => {
                let link = link.to_str().unwrap();
                assert!(link.ends_with("; rel=\"next\""), "{link}");
                uri = link[1..link.find('>').unwrap()].to_owned();
            }
            None => break,
        }
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Film {i}")).collect();
    assert_eq!(seen, expected, "every movie exactly once, newest first");
    let all = call(&app, "GET", "/api/movies", None, USER).await;
    assert!(all.headers.get("link").is_none());
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_never_a_500() {
    let (_db, app) = app().await;
    let long = "x".repeat(201);
    let cases: Vec<(&str, String, Option<String>, u16)> = vec![
        ("POST", "/api/movies".into(), Some("{".into()), 400),
        ("POST", "/api/movies".into(), Some("[]".into()), 400),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"title": 5}"#.into()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"description": "no title"}"#.into()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"title": "   "}"#.into()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(json!({"title": long}).to_string()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(json!({"title": "ok", "description": "d".repeat(2001)}).to_string()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"title": "nul\u0000"}"#.into()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"title": "ok", "extra": 1}"#.into()),
            400,
        ),
        ("POST", "/api/movies".into(), Some("".into()), 400),
        (
            "POST",
            "/api/movies".into(),
            Some(r#"{"title": "a", "title": "b"}"#.into()),
            400,
        ),
        (
            "PUT",
            "/api/movies/1".into(),
            Some(r#"{"description": "a", "description": "b"}"#.into()),
            400,
        ),
        (
            "POST",
            "/api/movies".into(),
            Some(format!(r#"{{"title":"{}"}}"#, "y".repeat(70_000))),
            413,
        ),
        ("PUT", "/api/movies/1".into(), Some("{}".into()), 400),
        ("PUT", "/api/movies/1".into(), Some("".into()), 400),
        (
            "PUT",
            "/api/movies/1".into(),
            Some(r#"{"title": null}"#.into()),
            400,
        ),
        ("GET", "/api/movies/abc".into(), None, 400),
        ("GET", "/api/movies/-1".into(), None, 400),
        ("GET", "/api/movies/0".into(), None, 400),
        ("GET", "/api/movies/1.5".into(), None, 400),
        (
            "GET",
            "/api/movies/99999999999999999999999".into(),
            None,
            400,
        ),
        ("GET", "/api/movies/%FF".into(), None, 400),
        ("DELETE", "/api/movies/abc".into(), None, 400),
        ("GET", "/api/movies/9223372036854775807".into(), None, 404),
        ("GET", "/api/movies?limit=-1".into(), None, 400),
        ("GET", "/api/movies?limit=0".into(), None, 400),
        (
            "GET",
            "/api/movies?limit=100000000000000000000".into(),
            None,
            400,
        ),
        ("GET", "/api/movies?limit=ten".into(), None, 400),
        ("GET", "/api/movies?cursor=xyz".into(), None, 400),
        ("GET", "/api/movies?title=%FF%FE".into(), None, 400),
        ("GET", "/api/movies?title=%00".into(), None, 400),
        ("GET", "/api/movies?titel=typo".into(), None, 400),
        ("PATCH", "/api/movies/1".into(), None, 405),
        ("GET", "/api/nothing".into(), None, 404),
    ];
    for (method, uri, body, status) in cases {
        let reply = call(&app, method, &uri, body.as_deref(), USER).await;
        assert_eq!(
            reply.status,
            status,
            "{method} {uri} {:?} -> {}",
            body.as_deref().map(|b| &b[..b.len().min(60)]),
            reply.json
        );
        reply.assert_problem(status);
        assert!(
            reply.json["detail"].is_string() || status == 405,
            "{method} {uri}: 4xx bodies explain"
        );
    }
    let with_text = {
        use tower::ServiceExt;
        let req = http::Request::post("/api/movies")
            .header("content-type", "text/plain")
            .extension(integration_tests::request_context("user", "[editors]"))
            .body(axum::body::Body::from(r#"{"title":"x"}"#))
            .unwrap();
        integration_tests::Reply::from(app.clone().oneshot(req).await.unwrap()).await
    };
    with_text.assert_problem(415);
}

#[tokio::test]
async fn sql_metacharacters_are_stored_verbatim() {
    let (_db, app) = app().await;
    let title = "Robert'); DROP TABLE movies;--";
    let r = call(
        &app,
        "POST",
        "/api/movies",
        Some(&json!({"title": title, "description": "\"quotes\" and \\ backslash"}).to_string()),
        USER,
    )
    .await;
    assert_eq!(r.status, 200);
    let got = call(
        &app,
        "GET",
        &format!("/api/movies/{}", r.json["id"]),
        None,
        USER,
    )
    .await;
    assert_eq!(got.json["title"], title);
}

#[tokio::test]
async fn delete_all_needs_admin() {
    let (_db, app) = app().await;
    for t in ["a", "b", "c"] {
        call(
            &app,
            "POST",
            "/api/movies",
            Some(&json!({"title": t}).to_string()),
            USER,
        )
        .await;
    }
    call(&app, "DELETE", "/api/movies", None, USER)
        .await
        .assert_problem(403);
    assert_eq!(
        call(&app, "GET", "/api/movies", None, USER)
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = call(&app, "DELETE", "/api/movies", None, ADMIN).await;
    assert_eq!((r.status, r.json.clone()), (200, json!({"deleted": 3})));
    assert_eq!(
        call(&app, "GET", "/api/movies", None, USER).await.json,
        json!([])
    );
}

#[tokio::test]
async fn api_routes_need_a_verified_caller_but_health_does_not() {
    let (_db, app) = app().await;
    let r = call(&app, "GET", "/api/movies", None, None).await;
    r.assert_problem(401);
    assert!(r.headers.contains_key("www-authenticate"));
    let h = call(&app, "GET", "/health", None, None).await;
    assert_eq!(
        (h.status, h.json.clone()),
        (200, json!({"status": "ok", "database": "ok"}))
    );
}

#[tokio::test]
async fn metrics_count_created_and_deleted() {
    let db = TestDb::new(Database::Movies).await;
    let (metrics, sink) = Metrics::capturing("inventory");
    let app = inventory::router(inventory::AppState::new(db.db.clone(), metrics));
    let r = call(&app, "POST", "/api/movies", Some(r#"{"title":"m"}"#), USER).await;
    call(
        &app,
        "DELETE",
        &format!("/api/movies/{}", r.json["id"]),
        None,
        USER,
    )
    .await;
    let lines = sink.lock().unwrap().join("\n");
    assert!(lines.contains("\"MoviesCreated\":1.0"), "{lines}");
    assert!(lines.contains("\"MoviesDeleted\":1.0"), "{lines}");
}
