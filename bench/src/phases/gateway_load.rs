//! Load through the local gateway: one request, a measured route, the waits and the table
//! row of the gateway phase, the concurrency sweep's charts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::load::{self, Load};
use bench::report::{Report, latency_cells, ratio};
use bench::setup::ORDERS_DB;
use bench::stats::{Summary, ms};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use uuid::Uuid;

use super::references::References;
use super::routes::Route;
use crate::Ctx;

const GATEWAY_P99_TARGET: Duration = Duration::from_millis(3);

pub(super) async fn gateway_send(
    client: &bench::http::Client,
    token: &str,
    worker: usize,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Option<Bytes> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, "127.0.0.1")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .ok()?;
    match client.send(worker, request).await {
        Ok((StatusCode::OK, body)) => Some(body),
        _ => None,
    }
}

pub(super) async fn measure_gateway(
    ctx: &Ctx,
    client: &Arc<bench::http::Client>,
    route: &Route,
    requests: usize,
    collect: Option<Arc<std::sync::Mutex<Vec<Uuid>>>>,
) -> Summary {
    measure_gateway_at(ctx, client, route, requests, ctx.load.concurrency, collect).await
}

pub(super) async fn measure_gateway_at(
    ctx: &Ctx,
    client: &Arc<bench::http::Client>,
    route: &Route,
    requests: usize,
    concurrency: usize,
    collect: Option<Arc<std::sync::Mutex<Vec<Uuid>>>>,
) -> Summary {
    // The billing POST is also the end-to-end run: once, so its orders are one burst.
    let requests_reps = if collect.is_some() { 1 } else { ctx.reps };
    let token = Arc::new(ctx.cognito.access_token.clone());
    let (client, method, path, body) = (
        client.clone(),
        route.method.clone(),
        route.path.clone(),
        route.body.clone(),
    );
    load::run_median(
        Load {
            requests,
            concurrency,
            ..ctx.load
        },
        requests_reps,
        move |w, i| {
            let (client, token, method, collect) = (
                client.clone(),
                token.clone(),
                method.clone(),
                collect.clone(),
            );
            let (uri, body) = (path(i), body.as_ref().map(|b| b(i)));
            async move {
                let Some(answer) = gateway_send(&client, &token, w, method, &uri, body).await
                else {
                    return false;
                };
                if let Some(collect) = collect {
                    let id = serde_json::from_slice::<Value>(&answer)
                        .ok()
                        .and_then(|v| v["message_id"].as_str().and_then(|s| s.parse().ok()));
                    match (id, collect.lock()) {
                        (Some(id), Ok(mut v)) => v.push(id),
                        _ => return false,
                    }
                }
                true
            }
        },
    )
    .await
}

/// The concurrency sweep as two SVG charts next to `bench/results.md` (shown there and in
/// `docs/performance.md`): latency percentiles and throughput by requests in flight.
pub(super) fn write_sweep_charts(
    ctx: &Ctx,
    report: &mut Report,
    sweep: &[(f64, Summary)],
) -> Result<(), String> {
    use bench::chart::{Series, line_chart};
    let ms = |d: Duration| d.as_secs_f64() * 1000.0; // not stats::ms, which formats
    let pick = |f: &dyn Fn(&Summary) -> f64| sweep.iter().map(|(x, s)| (*x, f(s))).collect();
    let charts = [
        (
            "latency-by-concurrency.svg",
            line_chart(
                "GET /api/movies/{id} through the gateway: latency",
                "requests in flight",
                "ms",
                &[
                    Series {
                        label: "p50",
                        points: pick(&|s| ms(s.p50)),
                    },
                    Series {
                        label: "p99",
                        points: pick(&|s| ms(s.p99)),
                    },
                ],
            ),
        ),
        (
            "throughput-by-concurrency.svg",
            line_chart(
                "GET /api/movies/{id} through the gateway: throughput",
                "requests in flight",
                "requests/s",
                &[Series {
                    label: "req/s",
                    points: pick(&|s| s.rps),
                }],
            ),
        ),
    ];
    for (name, svg) in charts {
        let path = ctx.repo.join("bench").join(name);
        if crate::writes_files() {
            std::fs::write(&path, svg).map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        report.line(&format!("\n![{name}]({name})"));
    }
    Ok(())
}

/// Waits until every order in `ids` is in the database.
pub(super) async fn wait_stored(ctx: &Ctx, ids: &[Uuid], max: Duration) -> Result<(), String> {
    let started = Instant::now();
    let client = ctx.svc.connect(&ctx.svc.admin(ORDERS_DB)).await?;
    let ids = ids.to_vec();
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FROM orders WHERE message_id = ANY($1)",
                &[&ids],
            )
            .await
            .map_err(|e| e.to_string())?;
        let n: i64 = row.get(0);
        if n as usize >= ids.len() {
            return Ok(());
        }
        if started.elapsed() > max {
            return Err(format!(
                "only {n} of {} orders stored after {max:?}",
                ids.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub(super) async fn wait_queue_empty(channel: &lapin::Channel, queue: &str, max: Duration) {
    let started = Instant::now();
    while started.elapsed() < max {
        let q = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await;
        if q.is_ok_and(|q| q.message_count() == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn row_gateway(
    report: &mut Report,
    all_ok: &mut bool,
    refs: &References,
    route: &Route,
    s: &Summary,
    cpu: (f64, f64, f64),
) {
    *all_ok &= s.errors == 0;
    let (reference, ref_name) = route.kind.pick(refs);
    let verdict = report.check(
        &format!("gateway `{}`", route.name),
        &format!("p99 {} ms", ms(s.p99)),
        "p99 <= 3 ms",
        s.errors == 0 && s.p99 <= GATEWAY_P99_TARGET,
    );
    let mut cells = vec![format!("`{}`", route.name)];
    cells.extend(latency_cells(s));
    cells.push(format!("{} {ref_name}", ratio(s.p99, reference.p99)));
    cells.push(format!("{:.0} / {:.0} / {:.0}", cpu.0, cpu.1, cpu.2));
    cells.push("p99 <= 3 ms".into());
    cells.push(verdict);
    report.row(&cells);
}
