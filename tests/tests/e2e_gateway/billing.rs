//! Billing through the gateway's event source mapping, and the crud-master audit word for word.

use super::*;

#[tokio::test]
async fn billing_survives_a_paused_consumer() {
    let s = Stack::start().await;
    let user = s.token("user");
    s.make("billing-pause").await;
    let order = json!({"user_id": "7", "number_of_items": 2, "total_amount": "19.90"});
    // Accepted while billing is paused.
    let message_id = s.order(&user, order).await;
    let path = format!("/api/billing/orders/{message_id}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, _) = s.call("GET", &path, Some(&user), None).await;
    assert_eq!(
        status, 404,
        "not stored while the event source mapping is disabled"
    );

    s.make("billing-resume").await;
    let stored = s
        .eventually_ok(&path, &user, "the order to be stored after resume")
        .await;
    assert_eq!(stored["message_id"], message_id);
}

/// Two `Idempotency-Key` headers reach billing-api joined with a comma, as API Gateway's payload
/// 2.0 joins a repeated header (and the local gateway alike): a 400 problem, never one key.
#[tokio::test]
async fn a_repeated_idempotency_key_is_a_400() {
    let s = Stack::start().await;
    let user = s.token("user");
    let resp = s
        .http
        .post(format!("{}/api/billing", s.url))
        .bearer_auth(&user)
        .header("content-type", "application/json")
        .header("idempotency-key", "order-1")
        .header("idempotency-key", "order-2")
        .body(json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let problem: Value = resp.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("comma"), "{problem}");
}

/// The crud-master audit, word for word: its URLs (trailing slash included), its bodies (numbers
/// as strings) and its resilience step (billing consumer off, orders wait, consumer on, orders
/// stored), against the same platform `make dev` runs. The orders table is read directly, as the
/// auditor does.
#[tokio::test]
async fn the_crud_master_audit_passes_with_its_literal_urls_and_bodies() {
    let s = Stack::start().await;
    let token = s.token("user");
    let t = Some(token.as_str());

    // Inventory API.
    let (status, created) = s
        .call(
            "POST",
            "/api/movies/",
            t,
            Some(json!({"title": "A new movie", "description": "Very short description"})),
        )
        .await;
    assert_eq!(status, 200, "POST /api/movies/: {created}");
    assert_eq!(
        (&created["title"], &created["description"]),
        (&json!("A new movie"), &json!("Very short description"))
    );
    let id = created["id"].as_i64().unwrap();

    let (status, list) = s.call("GET", "/api/movies/", t, None).await;
    assert_eq!(status, 200, "GET /api/movies/: {list}");
    assert_eq!(list, json!([created]), "the new movie, and only it");
    let (status, found) = s.call("GET", "/api/movies/?title=new", t, None).await;
    assert_eq!((status, found), (200, json!([created])));
    let (status, one) = s.call("GET", &format!("/api/movies/{id}/"), t, None).await;
    assert_eq!((status, one), (200, created.clone()));
    let (status, updated) = s
        .call(
            "PUT",
            &format!("/api/movies/{id}/"),
            t,
            Some(json!({"title": "A new movie", "description": "A longer description now"})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["description"], "A longer description now");
    let (status, deleted) = s
        .call("DELETE", &format!("/api/movies/{id}/"), t, None)
        .await;
    assert_eq!((status, &deleted["id"]), (200, &json!(id)));
    let (status, gone) = s.call("GET", &format!("/api/movies/{id}"), t, None).await;
    assert_eq!(status, 404, "{gone}");
    let (status, _) = s
        .call(
            "POST",
            "/api/movies/",
            t,
            Some(json!({"title": "Another movie"})),
        )
        .await;
    assert_eq!(status, 200);
    let admin = s.token("admin");
    let (status, wiped) = s.call("DELETE", "/api/movies/", Some(&admin), None).await;
    assert_eq!((status, wiped), (200, json!({"deleted": 1})));

    // Billing API: an order from the audit, stored by the consumer.
    let first = json!({"user_id": "20", "number_of_items": "99", "total_amount": "250"});
    let (status, queued) = s.call("POST", "/api/billing/", t, Some(first)).await;
    assert_eq!(
        (status, &queued["status"]),
        (200, &json!("queued")),
        "{queued}"
    );
    let orders = s.orders.client().await;
    let stored = |user_id: i64| {
        let orders = &orders;
        async move {
            let row = orders
                .query_opt(
                    "SELECT number_of_items, total_amount::text FROM orders WHERE user_id = $1",
                    &[&user_id],
                )
                .await
                .unwrap();
            row.map(|r| (r.get::<_, i32>(0), r.get::<_, String>(1)))
        }
    };
    let row = eventually(Duration::from_secs(30), "order of user 20 stored", || {
        stored(20)
    })
    .await;
    assert_eq!(row, (99, "250.00".to_owned()));

    // Resilience: the billing consumer is off, the order is still accepted and waits in the
    // queue; once the consumer is back, it is stored.
    s.make("billing-pause").await;
    let second = json!({"user_id": "22", "number_of_items": "10", "total_amount": "50"});
    let (status, queued) = s.call("POST", "/api/billing/", t, Some(second)).await;
    assert_eq!(status, 200, "accepted while the consumer is off: {queued}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stored(22).await,
        None,
        "not stored while the consumer is off"
    );
    s.make("billing-resume").await;
    let row = eventually(Duration::from_secs(30), "order of user 22 stored", || {
        stored(22)
    })
    .await;
    assert_eq!(row, (10, "50.00".to_owned()));
    let count: i64 = orders
        .query_one("SELECT count(*) FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 2, "each order stored once");

    // One slash only: what API Gateway does not route, the local gateway does not either.
    let (status, body) = s.call("GET", "/api/movies//", t, None).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}
