//! The billing path on a real RabbitMQ, a real PostgreSQL and moto's SQS: publish with
//! confirms, consume through a test-side event source mapping, store exactly once.

mod billing_support;

use std::collections::HashSet;
use std::time::Duration;

use billing_consumer::RabbitMqEvent;
use billing_support::{Harness, Mapping, count_orders, order_body, read_dlq, ready, rmq_event};
use integration_tests::{USER, amqp_url, call};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn publish_consume_store_with_exact_fields() {
    let h = Harness::new().await;
    let queued = h
        .post(r#"{"user_id": "42", "number_of_items": "3", "total_amount": "12.5"}"#)
        .await;
    assert_eq!(queued.status, 200, "{}", queued.json);
    assert_eq!(queued.json["status"], "queued");
    let id = queued.json["message_id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).unwrap();

    let pending = h.get(&id).await;
    pending.assert_problem(404);

    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    let reports = mapping.run_until_stored(&h.consumer, 1, WAIT).await;
    assert_eq!(reports[0].stored[0].to_string(), id);

    let stored = h.get(&id).await;
    assert_eq!(stored.status, 200, "{}", stored.json);
    let mut body = stored.json.clone();
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    body.as_object_mut().unwrap().remove("created_at");
    assert_eq!(
        body,
        json!({"message_id": id, "user_id": 42, "number_of_items": 3, "total_amount": "12.50", "principal": "user"})
    );
    // The row itself, as the table holds it.
    let row = h
        .db
        .client()
        .await
        .query_one(
            "SELECT user_id, number_of_items, total_amount::text, principal FROM orders WHERE message_id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i32>(1),
            row.get::<_, String>(2),
            row.get::<_, String>(3)
        ),
        (42, 3, "12.50".to_owned(), "user".to_owned())
    );
    mapping.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn published_message_is_persistent_json_with_message_id() {
    let h = Harness::new().await;
    let queued = h
        .post(r#"{"user_id": 5, "number_of_items": 1, "total_amount": 3}"#)
        .await;
    assert_eq!(queued.status, 200);
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 1).await;
    let deliveries = mapping.next_batch(Duration::from_secs(10)).await;
    let d = &deliveries[0];
    assert_eq!(*d.properties.delivery_mode(), Some(2));
    assert_eq!(
        d.properties.content_type().as_ref().map(|s| s.to_string()),
        Some("application/json".into())
    );
    assert_eq!(
        d.properties.message_id().as_ref().map(|s| s.to_string()),
        queued.json["message_id"].as_str().map(str::to_owned)
    );
    let body: serde_json::Value = serde_json::from_slice(&d.data).unwrap();
    assert_eq!(body["total_amount"], "3.00");
    assert_eq!(body["message_id"], queued.json["message_id"]);
    mapping.close().await;
    h.cleanup().await;
}

/// The publisher negotiates a small `frame_max` (`broker::amqp::FRAME_MAX`, a cold-start
/// saving): a message larger than a frame is split by the client and arrives whole.
#[tokio::test]
async fn a_message_larger_than_a_frame_arrives_whole() {
    let h = Harness::new().await;
    let body = vec![b'x'; 6 * broker::amqp::FRAME_MAX as usize + 123];
    h.publisher
        .publish(&uuid::Uuid::new_v4().to_string(), &body)
        .await
        .unwrap();
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 1).await;
    let deliveries = mapping.next_batch(Duration::from_secs(10)).await;
    assert_eq!(deliveries[0].data, body);
    mapping.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn orders_wait_in_the_queue_while_no_consumer_runs() {
    let h = Harness::new().await;
    let mut ids = HashSet::new();
    for i in 0..25 {
        let r = h.post(&order_body(i)).await;
        assert_eq!(r.status, 200, "{}", r.json);
        ids.insert(r.json["message_id"].as_str().unwrap().to_owned());
    }
    let conn = billing_support::amqp_connect(&amqp_url()).await;
    let channel = conn.create_channel().await.unwrap();
    assert_eq!(
        ready(&channel, &h.queue).await,
        25,
        "every order waits in the queue"
    );
    assert_eq!(count_orders(&h.db).await, 0);

    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    let reports = mapping.run_until_stored(&h.consumer, 25, WAIT).await;
    let stored: HashSet<String> = reports
        .iter()
        .flat_map(|r| r.stored.iter().map(|u| u.to_string()))
        .collect();
    assert_eq!(stored, ids);
    assert_eq!(count_orders(&h.db).await, 25);
    assert_eq!(ready(&channel, &h.queue).await, 0);
    mapping.close().await;
    let _ = conn.close(200, "done".into()).await;
    h.cleanup().await;
}

#[tokio::test]
async fn the_same_message_delivered_twice_is_one_row() {
    let h = Harness::new().await;
    let r = h
        .post(r#"{"user_id": 9, "number_of_items": 2, "total_amount": "1.00"}"#)
        .await;
    assert_eq!(r.status, 200);
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    let deliveries = mapping.next_batch(Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 1);
    let message = billing_support::rmq_message(&deliveries[0]);

    // Twice in one batch, then the whole batch again (a redelivery after a lost ack).
    let event = rmq_event(&h.queue, vec![message.clone(), message.clone()]);
    let first = billing_consumer::handle(event.clone(), &h.consumer)
        .await
        .unwrap();
    assert_eq!((first.stored.len(), first.duplicates.len()), (1, 1));
    let again = billing_consumer::handle(event, &h.consumer).await.unwrap();
    assert_eq!((again.stored.len(), again.duplicates.len()), (0, 2));
    assert_eq!(count_orders(&h.db).await, 1);
    mapping.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dlq_and_the_rest_is_stored() {
    use base64::Engine;
    let h = Harness::new().await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let good = |id: &str, amount: &str| {
        json!({
            "basicProperties": {"messageId": id, "priority": null, "deliveryMode": 2, "headers": null},
            "redelivered": false,
            "data": b64(&format!(r#"{{"message_id":"{id}","user_id":1,"number_of_items":1,"total_amount":"{amount}"}}"#)),
        })
    };
    let ids: Vec<String> = (0..4).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let event = rmq_event(
        &h.queue,
        vec![
            good(&ids[0], "10.00"),
            json!({"basicProperties": {"messageId": ids[1], "priority": null}, "data": b64("{not json")}),
            good(&ids[2], "20.00"),
            json!({"basicProperties": {"messageId": ids[3]}, "data": b64(r#"{"user_id":1,"number_of_items":0,"total_amount":"1"}"#)}),
            json!({"basicProperties": {"messageId": null}, "data": b64(r#"{"user_id":1,"number_of_items":1,"total_amount":"1"}"#)}),
        ],
    );
    let report = billing_consumer::handle(event, &h.consumer).await.unwrap();
    assert_eq!(report.stored.len(), 2);
    assert_eq!(report.dead_lettered.len(), 3);
    assert_eq!(count_orders(&h.db).await, 2);

    let mut dlq = read_dlq(&h.sqs, &h.dlq_url).await;
    dlq.sort_by(|a, b| a.2.cmp(&b.2));
    assert_eq!(dlq.len(), 3, "{dlq:?}");
    let by_id = |id: &str| dlq.iter().find(|m| m.2 == id).cloned().unwrap();
    let (body, reason, _) = by_id(&ids[1]);
    assert_eq!(body, "{not json");
    assert!(reason.contains("not a JSON order"), "{reason}");
    let (_, reason, _) = by_id(&ids[3]);
    assert!(reason.contains("number_of_items"), "{reason}");
    let (body, reason, _) = by_id("unknown");
    assert!(reason.contains("messageId"), "{reason}");
    assert!(body.contains("total_amount"));
    h.cleanup().await;
}

#[tokio::test]
async fn a_row_the_database_refuses_is_isolated_and_dead_lettered() {
    let h = Harness::new().await;
    h.db.refuse_thirteen_items().await;
    let bodies = [
        r#"{"user_id": 1, "number_of_items": 1, "total_amount": "1"}"#,
        r#"{"user_id": 1, "number_of_items": 13, "total_amount": "1"}"#,
        r#"{"user_id": 1, "number_of_items": 2, "total_amount": "1"}"#,
    ];
    let mut ids = Vec::new();
    for b in bodies {
        let r = h.post(b).await;
        assert_eq!(r.status, 200);
        ids.push(r.json["message_id"].as_str().unwrap().to_owned());
    }
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    let deliveries = mapping.next_batch(Duration::from_secs(10)).await;
    assert_eq!(deliveries.len(), 3, "the 3 deliveries come in one batch");
    let event = rmq_event(
        &h.queue,
        deliveries.iter().map(billing_support::rmq_message),
    );
    let report = billing_consumer::handle(event, &h.consumer).await.unwrap();
    assert_eq!(report.stored.len(), 2);
    assert_eq!(report.dead_lettered.len(), 1);
    assert_eq!(
        report.dead_lettered[0].message_id.as_deref(),
        Some(ids[1].as_str())
    );
    let dlq = read_dlq(&h.sqs, &h.dlq_url).await;
    assert_eq!(dlq.len(), 1);
    assert!(
        dlq[0].1.contains("23514"),
        "the reason names the violation: {}",
        dlq[0].1
    );
    assert!(dlq[0].0.contains(r#""number_of_items":13"#));
    assert_eq!(count_orders(&h.db).await, 2);
    mapping.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn bad_requests_are_400_problems_naming_the_field() {
    let h = Harness::new().await;
    let cases = [
        (
            r#"{"user_id": 0, "number_of_items": 1, "total_amount": 1}"#,
            "user_id",
        ),
        (
            r#"{"user_id": 9007199254740993, "number_of_items": 1, "total_amount": 1}"#,
            "user_id",
        ),
        (
            r#"{"user_id": "abc", "number_of_items": 1, "total_amount": 1}"#,
            "user_id",
        ),
        (r#"{"number_of_items": 1, "total_amount": 1}"#, "user_id"),
        (
            r#"{"user_id": 1, "number_of_items": 10001, "total_amount": 1}"#,
            "number_of_items",
        ),
        (
            r#"{"user_id": 1, "number_of_items": 1.5, "total_amount": 1}"#,
            "number_of_items",
        ),
        (
            r#"{"user_id": 1, "number_of_items": 1, "total_amount": "12.345"}"#,
            "total_amount",
        ),
        (
            r#"{"user_id": 1, "number_of_items": 1, "total_amount": -3}"#,
            "total_amount",
        ),
        (
            r#"{"user_id": 1, "number_of_items": 1, "total_amount": "1000000.01"}"#,
            "total_amount",
        ),
        (
            r#"{"user_id": 1, "number_of_items": 1, "total_amount": 1, "coupon": "x"}"#,
            "coupon",
        ),
        (r#"{"user_id": 1, "#, "malformed"),
        ("[]", "JSON object"),
    ];
    for (body, needle) in cases {
        let r = h.post(body).await;
        r.assert_problem(400);
        let detail = r.json["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(needle), "{body} -> {detail}");
    }
    let anonymous = call(
        &h.router,
        "POST",
        "/api/billing",
        Some(&order_body(1)),
        None,
    )
    .await;
    anonymous.assert_problem(401);
    h.get("not-a-uuid").await.assert_problem(400);
    h.get(&uuid::Uuid::new_v4().to_string())
        .await
        .assert_problem(404);
    call(&h.router, "DELETE", "/api/billing", None, USER)
        .await
        .assert_problem(405);
    assert_eq!(count_orders(&h.db).await, 0);
    h.cleanup().await;
}

#[tokio::test]
async fn an_unroutable_order_is_503_never_200() {
    let h = Harness::new().await;
    // A publisher whose queue was never declared: the broker returns the mandatory message.
    let mut settings =
        broker::AmqpSettings::local(&amqp_url(), &integration_tests::unique("missing_queue"));
    settings.declare_topology = false;
    let publisher = broker::Publisher::new(settings);
    let router = billing_api::router(billing_api::AppState {
        publisher: publisher.clone(),
        db: h.db.db.clone(),
        metrics: telemetry::metrics::Metrics::capturing("billing-api").0,
    });
    let r = call(&router, "POST", "/api/billing", Some(&order_body(1)), USER).await;
    r.assert_problem(503);
    assert_eq!(r.headers["retry-after"], "1");
    assert!(matches!(
        publisher
            .publish(&uuid::Uuid::new_v4().to_string(), b"{}")
            .await,
        Err(broker::PublishError::Unroutable(_))
    ));
    h.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_connection() {
    let h = Harness::patient().await;
    let posts = (0..40).map(|i| {
        let router = h.router.clone();
        tokio::spawn(async move {
            call(&router, "POST", "/api/billing", Some(&order_body(i)), USER)
                .await
                .status
        })
    });
    for p in futures::future::join_all(posts).await {
        assert_eq!(p.unwrap(), 200);
    }
    assert_eq!(h.publisher.connections_opened(), 1);
    let r = h.post(&order_body(99)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        h.publisher.connections_opened(),
        1,
        "reused across invocations"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn event_fixtures_go_through_the_router_and_the_consumer() {
    let h = Harness::new().await;
    let post =
        lambda_http::request::from_str(include_str!("../../events/billing-post.json")).unwrap();
    let response = {
        use tower::ServiceExt;
        let (parts, body) = post.into_parts();
        let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        h.router.clone().oneshot(request).await.unwrap()
    };
    let r = integration_tests::Reply::from(response).await;
    assert_eq!(r.status, 200, "{}", r.json);

    let event: RabbitMqEvent =
        serde_json::from_str(include_str!("../../events/rabbitmq-batch.json")).unwrap();
    let report = billing_consumer::handle(event, &h.consumer).await.unwrap();
    assert_eq!(
        (
            report.stored.len(),
            report.duplicates.len(),
            report.dead_lettered.len()
        ),
        (2, 1, 1)
    );
    let dlq = read_dlq(&h.sqs, &h.dlq_url).await;
    assert_eq!(dlq.len(), 1);
    assert!(dlq[0].1.contains("user_id"), "{}", dlq[0].1);

    let get = lambda_http::request::from_str(include_str!("../../events/billing-get-order.json"))
        .unwrap();
    let response = {
        use tower::ServiceExt;
        let (parts, body) = get.into_parts();
        let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        h.router.clone().oneshot(request).await.unwrap()
    };
    let r = integration_tests::Reply::from(response).await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["principal"], "user");
    assert_eq!(r.json["total_amount"], "12.50");
    h.cleanup().await;
}

#[tokio::test]
async fn an_order_is_visible_to_its_owner_and_the_billing_auditor_only() {
    let h = Harness::new().await;
    let r = h.post(&order_body(3)).await;
    let id = r.json["message_id"].as_str().unwrap().to_owned();
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    mapping.run_until_stored(&h.consumer, 1, WAIT).await;
    let uri = format!("/api/billing/orders/{id}");
    assert_eq!(call(&h.router, "GET", &uri, None, USER).await.status, 200);
    call(&h.router, "GET", &uri, None, Some(("mallory", "[user]")))
        .await
        .assert_problem(404);
    // The admin group administers the catalogue, not other people's orders.
    call(&h.router, "GET", &uri, None, integration_tests::ADMIN)
        .await
        .assert_problem(404);
    let auditor = integration_tests::request::request_context(serde_json::json!({
        "sub": billing_support::MACHINE_CLIENT,
        "client_id": billing_support::MACHINE_CLIENT,
        "scope": "crud-master/billing.audit",
    }));
    let audited =
        integration_tests::call_with(&h.router, "GET", &uri, None, &[], Some(auditor)).await;
    assert_eq!(audited.status, 200, "{}", audited.json);
    assert_eq!(audited.json["principal"], "user");
    mapping.close().await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_dlq_fails_the_batch_and_the_retry_adds_no_row() {
    use base64::Engine;
    let h = Harness::new().await;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let id = uuid::Uuid::new_v4().to_string();
    let event = rmq_event(
        &h.queue,
        vec![
            json!({"basicProperties": {"messageId": id}, "data": b64(&format!(
                r#"{{"message_id":"{id}","user_id":1,"number_of_items":1,"total_amount":"1"}}"#))}),
            json!({"basicProperties": {"messageId": uuid::Uuid::new_v4().to_string()}, "data": b64("poison")}),
        ],
    );
    let mut broken = h.consumer.clone();
    broken.dlq_url = format!(
        "{}/123456789012/absent-queue",
        integration_tests::aws_endpoint()
    );
    let err = billing_consumer::handle(event.clone(), &broken)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        billing_consumer::ConsumerError::DeadLetterQueue(_)
    ));

    let retried = billing_consumer::handle(event, &h.consumer).await.unwrap();
    assert_eq!(
        (
            retried.stored.len(),
            retried.duplicates.len(),
            retried.dead_lettered.len()
        ),
        (0, 1, 1)
    );
    assert_eq!(count_orders(&h.db).await, 1);
    assert_eq!(read_dlq(&h.sqs, &h.dlq_url).await.len(), 1);
    h.cleanup().await;
}
