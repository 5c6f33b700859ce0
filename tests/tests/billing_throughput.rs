//! Consumer throughput for batches of 100 and 1000 (the event source mapping's batch size):
//! `cargo test -p integration-tests --test billing_throughput -- --ignored --nocapture`.

mod billing_support;

use std::time::Instant;

use base64::Engine;
use billing_support::{Harness, count_orders, rmq_event};
use serde_json::json;

fn event(queue: &str, batch: usize, seed: usize) -> billing_consumer::RabbitMqEvent {
    let messages: Vec<serde_json::Value> = (0..batch)
        .map(|i| {
            let id = uuid::Uuid::new_v4().to_string();
            let body = json!({
                "message_id": id, "user_id": seed + i + 1, "number_of_items": (i % 9) + 1,
                "total_amount": format!("{}.{:02}", i % 900 + 1, i % 100), "principal": "bench",
            });
            json!({
                "basicProperties": {"contentType": "application/json", "deliveryMode": 2, "priority": null,
                                    "messageId": id, "headers": null, "correlationId": null},
                "redelivered": false,
                "data": base64::engine::general_purpose::STANDARD.encode(body.to_string()),
            })
        })
        .collect();
    rmq_event(queue, messages)
}

#[tokio::test]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn consumer_throughput_for_batches_of_100_and_1000() {
    let h = Harness::new().await;
    // Warm the pool and the prepared statement.
    billing_consumer::handle(event(&h.queue, 10, 0), &h.consumer)
        .await
        .unwrap();
    let mut total = 10;
    for (batch, rounds) in [(100usize, 50usize), (1000, 10)] {
        let events: Vec<_> = (0..rounds)
            .map(|r| event(&h.queue, batch, r * batch))
            .collect();
        let started = Instant::now();
        for e in events {
            let report = billing_consumer::handle(e, &h.consumer).await.unwrap();
            assert_eq!(report.stored.len(), batch);
        }
        let elapsed = started.elapsed();
        total += batch * rounds;
        println!(
            "consumer throughput, batch {batch}: {} orders in {elapsed:.2?} = {:.0} orders/s ({:.1} ms per batch)",
            batch * rounds,
            (batch * rounds) as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1000.0 / rounds as f64
        );
    }
    assert_eq!(count_orders(&h.db).await, total as i64);
    h.cleanup().await;
}
