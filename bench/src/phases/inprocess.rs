//! Billing consumer throughput and warm latency in-process (`Router::oneshot`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use bench::load::{self, Load};
use bench::report::{Report, latency_cells, ratio};
use bench::setup::{MOVIES_DB, MOVIES_ROLE, ORDERS_DB, ORDERS_ROLE};
use bench::stats::{Summary, ms};
use database::Db;
use http::Method;
use telemetry::metrics::Metrics;

use super::functions::rmq_event;
use super::references::References;
use super::routes::{
    Route, billing_get_route, billing_post_route, inventory_routes, oneshot, request_context,
};
use crate::{Ctx, say};

const CONSUMER_TARGET: f64 = 20_000.0;

pub(super) async fn measure_in_process(
    ctx: &Ctx,
    router: &Router,
    route: &Route,
) -> Result<Summary, String> {
    let rc = Arc::new(request_context()?);
    let router = router.clone();
    let (method, path, body) = (route.method.clone(), route.path.clone(), route.body.clone());
    // A few requests first, so every pooled connection exists and has its statements prepared.
    let warm = {
        let (router, rc, method, path, body) = (
            router.clone(),
            rc.clone(),
            method.clone(),
            path.clone(),
            body.clone(),
        );
        let n = ctx.load.concurrency * 2;
        let is_write = method != Method::GET;
        load::run(
            Load {
                requests: if is_write { 0 } else { n },
                ..ctx.load
            },
            move |_, i| {
                let (router, rc, method) = (router.clone(), rc.clone(), method.clone());
                let (uri, body) = (path(i), body.as_ref().map(|b| b(i)));
                async move { oneshot(&router, &rc, method, &uri, body).await }
            },
        )
        .await
    };
    let _ = warm;
    Ok(load::run_median(ctx.load, ctx.reps, move |_, i| {
        let (router, rc, method) = (router.clone(), rc.clone(), method.clone());
        let (uri, body) = (path(i), body.as_ref().map(|b| b(i)));
        async move { oneshot(&router, &rc, method, &uri, body).await }
    })
    .await)
}

/// The latency table's columns, with `extra` ones between the reference ratio and the target.
pub(super) fn latency_header(report: &mut Report, extra: &[&str]) {
    let mut columns = vec![
        "route",
        "n",
        "p50",
        "p99",
        "max",
        "req/s",
        "errors",
        "p99 vs ref",
    ];
    columns.extend_from_slice(extra);
    columns.extend_from_slice(&["target", "result"]);
    report.table(&columns);
}

pub(super) async fn consumer_throughput_and_inprocess(
    ctx: &Ctx,
    refs: &References,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    let c = ctx.load.concurrency;
    // In-process the router serves `c` requests at once, as `c` Lambda instances would: one
    // pooled connection per concurrent request.
    let movies_db = Db::new(&ctx.svc.app(MOVIES_DB, MOVIES_ROLE, c)).map_err(|e| e.to_string())?;
    let (metrics, sink) = Metrics::capturing("inventory");
    let inventory = inventory::router(inventory::AppState::new(movies_db, metrics));
    let orders_db = Db::new(&ctx.svc.app(ORDERS_DB, ORDERS_ROLE, c)).map_err(|e| e.to_string())?;
    let (billing_metrics, billing_sink) = Metrics::capturing("billing-api");
    let billing = billing_api::router(billing_api::AppState {
        publisher: broker::Publisher::new(broker::AmqpSettings::local(
            &ctx.svc.amqp_url,
            &ctx.queue,
        )),
        db: orders_db,
        metrics: billing_metrics,
    });

    // Consumer first: its stored orders are what GET /api/billing/orders/{id} reads.
    say("consumer throughput (handler called directly with aws:rmq events)");
    let consumer_db =
        Db::new(&ctx.svc.app(ORDERS_DB, ORDERS_ROLE, 2)).map_err(|e| e.to_string())?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let (consumer_metrics, consumer_sink) = Metrics::capturing("billing-consumer");
    let consumer = billing_consumer::Consumer {
        db: consumer_db,
        sqs: aws_sdk_sqs::Client::new(&aws),
        dlq_url: ctx.dlq_url.clone(),
        metrics: consumer_metrics,
    };
    report.heading(
        "Billing consumer throughput",
        "`billing_consumer::handle` called directly (as the runtime calls it) with `aws:rmq` \
         events of valid orders, against the real `orders` database: each batch is deserialized \
         from JSON, decoded, validated and stored with one idempotent statement. One consumer \
         at a time, as the RabbitMQ event source mapping runs it; a warm-up batch is not counted.",
    );
    report.table(&[
        "batch size",
        "batches",
        "batch p50",
        "batch max",
        "orders/s",
        "errors",
        "target",
        "result",
    ]);
    let mut stored_ids = Vec::new();
    for (batch, count) in [(100usize, 30usize), (1000, 10)] {
        let mut times = Vec::new();
        let mut errors = 0;
        let mut stored = 0usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        for b in 0..=count {
            if Instant::now() > deadline {
                break;
            }
            let (bytes, ids) = rmq_event(&ctx.queue, batch)?;
            let t = Instant::now();
            let outcome = match serde_json::from_slice::<billing_consumer::RabbitMqEvent>(&bytes) {
                Ok(event) => billing_consumer::handle(event, &consumer)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            let took = t.elapsed();
            match outcome {
                Ok(r) if r.stored.len() == batch => {
                    if b > 0 {
                        times.push(took);
                        stored += batch;
                    }
                    stored_ids.extend(ids);
                }
                Ok(r) => {
                    errors += 1;
                    say(&format!(
                        "consumer: stored {} of {batch} ({} dead-lettered)",
                        r.stored.len(),
                        r.dead_lettered.len()
                    ));
                }
                Err(e) => {
                    errors += 1;
                    say(&format!("consumer: {e}"));
                }
            }
            if let Ok(mut v) = consumer_sink.lock() {
                v.clear();
            }
        }
        *all_ok &= errors == 0;
        let total: Duration = times.iter().sum();
        let rate = if total.is_zero() {
            0.0
        } else {
            stored as f64 / total.as_secs_f64()
        };
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let (target, verdict) = if batch == 1000 {
            (
                ">= 20,000 orders/s".to_owned(),
                report.check(
                    "consumer, batch 1000",
                    &format!("{rate:.0} orders/s"),
                    ">= 20,000 orders/s",
                    errors == 0 && rate >= CONSUMER_TARGET,
                ),
            )
        } else {
            ("-".to_owned(), "-".to_owned())
        };
        report.row(&[
            batch.to_string(),
            times.len().to_string(),
            ms(bench::stats::percentile(&sorted, 50.0)),
            ms(sorted.last().copied().unwrap_or_default()),
            format!("{rate:.0}"),
            errors.to_string(),
            target,
            verdict,
        ]);
    }

    report.heading(
        "Warm latency in-process",
        "The axum `Router` each function serves, called with `oneshot` (no socket, no Lambda \
         event conversion) against the real database and broker, at the fixed concurrency. \
         Target: p99 <= 2x the reference round trip the route is made of, at the same \
         concurrency, measured again right before the route so both see the same machine \
         (`SELECT 1` for reads, a committed `INSERT` for writes, publish+confirm for \
         `POST /api/billing`; its p99 in brackets).",
    );
    latency_header(report, &[]);
    let stored_ids = Arc::new(stored_ids);
    let mut routes = inventory_routes(1001);
    routes.push(billing_post_route());
    routes.push(billing_get_route(stored_ids.clone()));
    for route in &routes {
        let router = if route.name.contains("billing") {
            &billing
        } else {
            &inventory
        };
        // The reference right before the route, so both see the same machine.
        let reference = refs.rig.measure(route.kind).await;
        let s = measure_in_process(ctx, router, route).await?;
        for sinkv in [&sink, &billing_sink] {
            if let Ok(mut v) = sinkv.lock() {
                v.clear();
            }
        }
        *all_ok &= s.errors == 0;
        let ref_name = route.kind.pick(refs).1;
        let reference = &reference;
        let verdict = report.check(
            &format!("in-process `{}`", route.name),
            &format!(
                "p99 {} ms = {} {ref_name} p99",
                ms(s.p99),
                ratio(s.p99, reference.p99)
            ),
            "p99 <= 2x reference",
            s.errors == 0 && s.p99 <= reference.p99 * 2,
        );
        let mut cells = vec![format!("`{}`", route.name)];
        cells.extend(latency_cells(&s));
        cells.push(format!(
            "{} {ref_name} ({} ms)",
            ratio(s.p99, reference.p99),
            ms(reference.p99)
        ));
        cells.push("<= 2x ref p99".into());
        cells.push(verdict);
        report.row(&cells);
    }
    Ok(())
}
