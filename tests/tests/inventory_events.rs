//! Every events/inventory-*.json file goes through lambda_http's own event parsing and then
//! the router, exactly as on Lambda, against a fresh real database.

use database::migrate::Database;
use integration_tests::{Reply, TestDb};
use tower::ServiceExt;

async fn invoke(app: &axum::Router, file: &str) -> Reply {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../events/").to_owned() + file;
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request = lambda_http::request::from_str(&raw)
        .unwrap_or_else(|e| panic!("{file} is not an API Gateway event: {e}"));
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    Reply::from(app.clone().oneshot(request).await.expect("router")).await
}

#[tokio::test]
async fn each_inventory_event_file_is_served() {
    let db = TestDb::new(Database::Movies).await;
    let app = integration_tests::inventory_app(db.db.clone());
    let steps = [
        ("inventory-health.json", 200),
        ("inventory-create.json", 200),
        ("inventory-list.json", 200),
        ("inventory-get.json", 200),
        ("inventory-update.json", 200),
        ("inventory-delete.json", 200),
        ("inventory-get.json", 404),
        ("inventory-create.json", 200),
        ("inventory-delete-all.json", 200),
    ];
    for (file, status) in steps {
        let reply = invoke(&app, file).await;
        assert_eq!(reply.status, status, "{file}: {}", reply.json);
    }
    let listed = invoke(&app, "inventory-list.json").await;
    assert_eq!(
        listed.json,
        serde_json::json!([]),
        "delete-all (admin event) removed everything"
    );
}

#[test]
fn every_event_file_parses() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let (mut http, mut rmq, mut files) = (0, 0, 0);
    for entry in std::fs::read_dir(dir).expect("events/") {
        files += 1;
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read_to_string(&path).expect("read");
        let value: serde_json::Value =
            serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        if value.get("version").and_then(|v| v.as_str()) == Some("2.0") {
            lambda_http::request::from_str(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            http += 1;
        } else {
            serde_json::from_value::<billing::rmq::RabbitMqEvent>(value)
                .unwrap_or_else(|e| panic!("{name} is neither an HTTP API event nor aws:rmq: {e}"));
            rmq += 1;
        }
    }
    assert_eq!(
        (http, rmq),
        (files - 1, 1),
        "{files} files in events/: one batch, the rest HTTP"
    );
}
