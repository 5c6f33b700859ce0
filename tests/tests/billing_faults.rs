//! Outages on the billing path, simulated with a cuttable proxy so other tests are undisturbed:
//! the database away during a batch, the broker away during a POST.

mod billing_support;

use std::time::{Duration, Instant};

use billing_support::{Harness, Mapping, count_orders, order_body, ready};
use integration_tests::{Cuttable, amqp_url, pg_port};

const WAIT: Duration = Duration::from_secs(60);

fn amqp_port() -> u16 {
    std::env::var("CRUD_AMQP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5673)
}

#[tokio::test]
async fn database_down_fails_the_batch_and_the_redelivery_stores_it_once() {
    let proxy = Cuttable::to(pg_port()).await;
    let h = Harness::with(&amqp_url(), Some(proxy.port)).await;
    for i in 0..30 {
        assert_eq!(h.post(&order_body(i)).await.status, 200);
    }
    // Warm the pool, so the cut also breaks connections in use, not only new ones.
    h.consumer.db.ping().await.unwrap();

    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 50).await;
    proxy.cut();
    let started = Instant::now();
    let failed = mapping
        .invoke(&h.consumer, Duration::from_secs(10))
        .await
        .expect("a batch");
    let err = failed.expect_err("the invocation fails while the database is away");
    // The platform's fault, not the orders': none of them is dead-lettered, the batch comes back.
    assert!(
        matches!(err, billing_consumer::ConsumerError::Database(_)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_eq!(count_orders(&h.db).await, 0);
    // Nothing was acknowledged: with the mapping gone, all 30 wait in the queue again.
    mapping.close().await;
    let observer = billing_support::amqp_connect(&amqp_url()).await;
    let channel = observer.create_channel().await.unwrap();
    integration_tests::eventually(Duration::from_secs(10), "30 messages ready", || async {
        (ready(&channel, &h.queue).await == 30).then_some(())
    })
    .await;

    // The GET path answers 503 meanwhile, never a hang or a 500.
    h.get(&uuid::Uuid::new_v4().to_string())
        .await
        .assert_problem(503);

    proxy.restore();
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 50).await;
    let reports = mapping.run_until_stored(&h.consumer, 30, WAIT).await;
    let redelivered: usize = reports.iter().map(|r| r.stored.len()).sum();
    assert_eq!(redelivered, 30);
    assert_eq!(count_orders(&h.db).await, 30, "stored exactly once");
    assert_eq!(ready(&channel, &h.queue).await, 0);
    mapping.close().await;
    let _ = observer.close(200, "done".into()).await;
    h.cleanup().await;
}

#[tokio::test]
async fn broker_down_answers_503_in_bounded_time_and_recovers() {
    let proxy = Cuttable::to(amqp_port()).await;
    let (admin, password) = integration_tests::amqp_admin();
    let url = format!("amqp://{admin}:{password}@127.0.0.1:{}/%2f", proxy.port);
    let h = Harness::with(&url, None).await;
    let first = h.post(&order_body(1)).await;
    assert_eq!(first.status, 200, "{}", first.json);

    proxy.cut();
    for _ in 0..3 {
        let started = Instant::now();
        let r = h.post(&order_body(2)).await;
        r.assert_problem(503);
        assert_eq!(
            r.json["detail"],
            "a dependency is temporarily unreachable; retry shortly"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10), // the 5 s publish budget, plus a loaded machine's slack
            "bounded wait: {:?}",
            started.elapsed()
        );
    }

    proxy.restore();
    let again = h.post(&order_body(3)).await;
    assert_eq!(
        again.status, 200,
        "reconnects once the broker is back: {}",
        again.json
    );
    assert_eq!(
        h.publisher.connections_opened(),
        2,
        "one connection before the cut, one after it"
    );

    // Exactly the two confirmed orders are in the queue: the refused one was never queued.
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 10).await;
    mapping.run_until_stored(&h.consumer, 2, WAIT).await;
    assert!(
        mapping
            .invoke(&h.consumer, Duration::from_millis(300))
            .await
            .is_none()
    );
    assert_eq!(count_orders(&h.db).await, 2);
    mapping.close().await;
    h.cleanup().await;
}
