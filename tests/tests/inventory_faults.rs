//! The database going away gives 503 (never a hang, never a 500), and the pool heals by
//! itself when it comes back. The outage is a cut network path (a proxy), so other tests
//! sharing the PostgreSQL server are not disturbed.

use std::time::Duration;

use database::Db;
use database::migrate::Database;
use integration_tests::{Cuttable, TestDb, USER, call, eventually};

#[tokio::test]
async fn database_outage_is_503_and_recovers() {
    let test_db = TestDb::new(Database::Movies).await;
    let proxy = Cuttable::to(test_db.settings.port).await;
    let mut settings = test_db.settings.clone();
    settings.port = proxy.port;
    settings.connect_timeout = Duration::from_millis(500);
    settings.query_timeout = Duration::from_secs(1);
    let app = integration_tests::inventory_app(Db::new(&settings).unwrap());

    let created = call(
        &app,
        "POST",
        "/api/movies",
        Some(r#"{"title":"Survivor"}"#),
        USER,
    )
    .await;
    assert_eq!(created.status, 200);

    proxy.cut();
    let started = std::time::Instant::now();
    for (method, uri, body) in [
        ("GET", "/api/movies", None),
        ("POST", "/api/movies", Some(r#"{"title":"x"}"#)),
        ("GET", "/api/movies/1", None),
    ] {
        let r = call(&app, method, uri, body, USER).await;
        r.assert_problem(503);
        assert_eq!(r.json["title"], "Database unavailable");
        assert_eq!(r.headers["retry-after"], "1");
        assert!(
            !r.json.to_string().contains("127.0.0.1"),
            "no internals in a 5xx body"
        );
    }
    let health = call(&app, "GET", "/health", None, None).await;
    assert_eq!(health.status, 503);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );

    proxy.restore();
    let listed = eventually(Duration::from_secs(10), "the pool to reconnect", || async {
        let r = call(&app, "GET", "/api/movies", None, USER).await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(listed.json[0]["title"], "Survivor");
    assert_eq!(call(&app, "GET", "/health", None, None).await.status, 200);
}
