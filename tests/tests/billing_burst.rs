//! A burst of 10,000 orders through publish (the billing-api router, with confirms) and
//! consume (the consumer fed by a test-side event source mapping): exactly 10,000 rows.

mod billing_support;

use std::time::{Duration, Instant};

use billing_support::{Harness, Mapping, count_orders, order_body};
use futures::StreamExt;
use integration_tests::{USER, amqp_url, call};

const ORDERS: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_10000_orders_stores_exactly_10000_rows() {
    let h = Harness::patient().await;
    let started = Instant::now();
    let statuses: Vec<u16> = futures::stream::iter(0..ORDERS)
        .map(|i| {
            let router = h.router.clone();
            async move {
                call(&router, "POST", "/api/billing", Some(&order_body(i)), USER)
                    .await
                    .status
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let published = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 200), "every POST confirmed");
    assert_eq!(h.publisher.connections_opened(), 1);

    let consuming = Instant::now();
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 100).await;
    let reports = mapping
        .run_until_stored(&h.consumer, ORDERS, Duration::from_secs(300))
        .await;
    let consumed = consuming.elapsed();
    assert!(
        mapping
            .invoke(&h.consumer, Duration::from_millis(300))
            .await
            .is_none(),
        "nothing left in the queue"
    );
    assert_eq!(count_orders(&h.db).await, ORDERS as i64);
    println!(
        "burst: {ORDERS} orders published (200 after confirm) in {:.2?} ({:.0}/s), consumed in {} batches in {:.2?} ({:.0}/s), total {:.2?}",
        published,
        ORDERS as f64 / published.as_secs_f64(),
        reports.len(),
        consumed,
        ORDERS as f64 / consumed.as_secs_f64(),
        started.elapsed()
    );
    mapping.close().await;
    h.cleanup().await;
}
