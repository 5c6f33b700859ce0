//! Every route that takes an id in its path answers a bad one (not UTF-8 once percent-decoded,
//! over-long, malformed) with a problem+json 400 naming the parameter, in both HTTP functions,
//! before any query: the routers here sit over a pool and a broker that are never reached.

use database::{Db, DbSettings};
use integration_tests::call_with;
use integration_tests::request::{request_context, user_claims};
use serde_json::json;
use telemetry::metrics::Metrics;

fn invalid(detail: &str) -> serde_json::Value {
    json!({
        "type": "/problems/invalid-request",
        "title": "Invalid request",
        "status": 400,
        "detail": detail,
    })
}

fn unreachable_db(name: &str) -> Db {
    Db::new(&DbSettings::local("127.0.0.1", 1, name, "u", "p")).expect("pool")
}

#[tokio::test]
async fn a_bad_movie_id_is_a_problem_on_every_route_that_takes_one() {
    let app = inventory::router(inventory::AppState::new(
        unreachable_db("movies"),
        Metrics::from_env(&[("", "")], "inventory"),
    ));
    let long = "9".repeat(10_000);
    for method in ["GET", "PUT", "DELETE"] {
        for (id, detail) in [
            ("%FF", "id: is not UTF-8 once percent-decoded".to_owned()),
            ("%C3%28", "id: is not UTF-8 once percent-decoded".to_owned()),
            (
                long.as_str(),
                "id: is not a positive integer (10000 characters)".to_owned(),
            ),
            ("abc", r#"id: "abc" is not a positive integer"#.to_owned()),
        ] {
            let body = (method == "PUT").then_some(r#"{"title":"x"}"#);
            let context = request_context(user_claims("sub-e", "e", Some("[editors]")));
            let uri = format!("/api/movies/{id}");
            let reply = call_with(&app, method, &uri, body, &[], Some(context)).await;
            let what = format!("{method} /api/movies/{}", &id[..id.len().min(12)]);
            reply.assert_problem(400);
            assert_eq!(reply.json, invalid(&detail), "{what}");
        }
    }
}

#[tokio::test]
async fn a_bad_message_id_is_a_problem() {
    let app = billing_api::router(billing_api::AppState {
        publisher: broker::Publisher::new(broker::AmqpSettings::local(
            "amqp://u:p@127.0.0.1:1/%2f",
            "billing_queue",
        )),
        db: unreachable_db("orders"),
        metrics: Metrics::from_env(&[("", "")], "billing-api"),
    });
    let uuid = uuid::Uuid::new_v4();
    let long = "a".repeat(10_000);
    for (id, detail) in [
        (
            "%FF".to_owned(),
            "message_id: is not UTF-8 once percent-decoded".to_owned(),
        ),
        (
            long.clone(),
            "message_id: is not a UUID (10000 characters)".to_owned(),
        ),
        (
            uuid.simple().to_string(),
            format!("message_id: \"{}\" is not a UUID", uuid.simple()),
        ),
    ] {
        let context = request_context(user_claims("sub-u", "u", Some("[user]")));
        let uri = format!("/api/billing/orders/{id}");
        let reply = call_with(&app, "GET", &uri, None, &[], Some(context)).await;
        let what = format!("GET /api/billing/orders/{}", &id[..id.len().min(12)]);
        reply.assert_problem(400);
        assert_eq!(reply.json, invalid(&detail), "{what}");
    }
}
