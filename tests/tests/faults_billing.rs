//! The broker really restarted while orders wait in the queue: none is lost. This stops and
//! starts the shared RabbitMQ node, so it is the only test in its binary (test binaries run one
//! after another under `cargo test`).

mod billing_support;

use std::time::{Duration, Instant};

use billing_support::{Harness, Mapping, count_orders, order_body, ready};
use integration_tests::{amqp_url, eventually, services};

/// Starts RabbitMQ again if the test fails while it is stopped, so later tests find it.
struct RestartOnDrop(bool);

impl Drop for RestartOnDrop {
    fn drop(&mut self) {
        if self.0 {
            let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
            let _ = std::process::Command::new(format!("{root}/scripts/services.sh"))
                .arg("rabbit-start")
                .status();
        }
    }
}

async fn run(args: &'static [&'static str]) {
    tokio::task::spawn_blocking(move || services(args))
        .await
        .expect("services.sh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_loses_no_queued_order() {
    let h = Harness::new().await;
    for i in 0..50 {
        let r = h.post(&order_body(i)).await;
        assert_eq!(r.status, 200, "{}", r.json);
    }

    let mut guard = RestartOnDrop(true);
    run(&["rabbit-stop"]).await;
    let started = Instant::now();
    let r = h.post(&order_body(50)).await;
    r.assert_problem(503);
    assert!(
        started.elapsed() < Duration::from_secs(10), // the 5 s publish budget, plus a loaded machine's slack
        "bounded: {:?}",
        started.elapsed()
    );

    run(&["rabbit-start"]).await;
    guard.0 = false;
    let r = eventually(
        Duration::from_secs(30),
        "a POST confirmed after the restart",
        || async {
            let r = h.post(&order_body(51)).await;
            (r.status == 200).then_some(r)
        },
    )
    .await;
    assert_eq!(r.json["status"], "queued");

    let conn = billing_support::amqp_connect(&amqp_url()).await;
    let channel = conn.create_channel().await.unwrap();
    assert_eq!(
        ready(&channel, &h.queue).await,
        51,
        "the 50 confirmed before the restart survived it, plus the one after"
    );
    let mut mapping = Mapping::start(&amqp_url(), &h.queue, 100).await;
    mapping
        .run_until_stored(&h.consumer, 51, Duration::from_secs(60))
        .await;
    assert_eq!(count_orders(&h.db).await, 51);
    mapping.close().await;
    let _ = conn.close(200, "done".into()).await;
    h.cleanup().await;
}
