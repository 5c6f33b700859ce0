//! Everything through the local gateway: warm latency, the concurrency sweep, billing end to
//! end, peak RSS.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::proc::CpuSnapshot;
use bench::report::{Report, latency_cells, mib};
use bench::stats::Summary;
use local_gateway::authorizer::AuthorizerConfig;
use local_gateway::esm::EsmConfig;
use local_gateway::{GatewayConfig, LambdaService};
use uuid::Uuid;

use super::functions::function_config;
use super::gateway_load::{
    measure_gateway, measure_gateway_at, row_gateway, wait_queue_empty, wait_stored,
    write_sweep_charts,
};
use super::inprocess::latency_header;
use super::references::References;
use super::routes::{billing_get_route, billing_post_route, inventory_routes};
use crate::{Ctx, FUNCTIONS, say};

const RSS_TARGET_KIB: u64 = 20 * 1024;

pub(super) async fn through_gateway(
    ctx: &Ctx,
    admin_channel: &lapin::Channel,
    refs: &References,
    report: &mut Report,
    all_ok: &mut bool,
    search_only: bool,
) -> Result<(), String> {
    say("through the local gateway (JWT authorizer, Lambda service, event source mapping)");
    let c = ctx.load.concurrency;
    let functions = vec![
        function_config(ctx, "inventory", false, c),
        function_config(ctx, "billing-api", false, c),
        function_config(ctx, "billing-consumer", false, 1),
    ];
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        openapi: ctx.repo.join("openapi.yaml"),
        api_id: "bench".into(),
        authorizer: AuthorizerConfig::cognito(
            &ctx.svc.aws_endpoint,
            &ctx.svc.region,
            &ctx.cognito.pool_id,
            vec![ctx.cognito.client_id.clone()],
        ),
        functions,
        event_source_mappings: vec![EsmConfig::new(
            "billing-consumer",
            &ctx.svc.amqp_url,
            &ctx.queue,
        )],
        watch: None,
        web: None,
    };
    let running = local_gateway::start(cfg)
        .await
        .map_err(|e| format!("starting the gateway: {e}"))?;
    let client = Arc::new(bench::http::Client::new(running.addr, c));
    let result = if search_only {
        search_only_phase(ctx, &client, report, all_ok).await
    } else {
        gateway_phases(
            ctx,
            &running.lambda,
            &client,
            admin_channel,
            refs,
            report,
            all_ok,
        )
        .await
    };
    running.shutdown().await;
    result
}

/// `BENCH_ONLY=search`: the title-search phase alone, after the same inventory warm-up.
async fn search_only_phase(
    ctx: &Ctx,
    client: &Arc<bench::http::Client>,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    say("gateway warm-up: starting inventory instances");
    let route = inventory_routes(0).remove(0);
    let s = measure_gateway(ctx, client, &route, ctx.load.concurrency * 8, None).await;
    if s.errors > 0 {
        return Err(format!(
            "gateway warm-up: {} of {} {} failed",
            s.errors, s.count, route.name
        ));
    }
    super::search::search_at_scale(ctx, client, report, all_ok).await
}

pub(super) async fn gateway_phases(
    ctx: &Ctx,
    lambda: &LambdaService,
    client: &Arc<bench::http::Client>,
    admin_channel: &lapin::Channel,
    refs: &References,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    let c = ctx.load.concurrency;
    // Warm-up: `c` instances of each HTTP function, every one past its cold start and first
    // connection, and the authorizer's JWKS cached.
    say("gateway warm-up: starting instances");
    for route in [inventory_routes(0).remove(0), billing_post_route()] {
        let s = measure_gateway(ctx, client, &route, c * 8, None).await;
        if s.errors > 0 {
            return Err(format!(
                "gateway warm-up: {} of {} {} failed",
                s.errors, s.count, route.name
            ));
        }
    }
    wait_queue_empty(admin_channel, &ctx.queue, Duration::from_secs(30)).await;

    report.heading(
        "Warm latency through the local gateway",
        "HTTP/1.1 keep-alive clients -> local API Gateway (route match from `openapi.yaml`, \
         Cognito JWT authorizer verifying an RS256 access token from moto, payload format 2.0 \
         event) -> the Lambda service (runtime API, a warm instance per concurrent request) -> \
         the release `bootstrap` -> PostgreSQL/RabbitMQ, at the fixed concurrency, after a \
         warm-up that started the instances.",
    );
    latency_header(
        report,
        &["CPU µs/req gateway+client / function / PostgreSQL"],
    );
    let paths: Vec<PathBuf> = FUNCTIONS
        .iter()
        .map(|f| ctx.functions_dir.join(f))
        .collect();
    let bootstraps: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let delete_from = 1001 + ctx.load.requests * ctx.reps;
    let mut routes = inventory_routes(delete_from);
    let post = billing_post_route();
    let ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut e2e: Option<(usize, Duration)> = None;
    for route in routes.drain(..).chain(std::iter::once(post)) {
        let is_post = route.name == "POST /api/billing";
        let before = CpuSnapshot::take(&bootstraps);
        let t0 = Instant::now();
        let s = measure_gateway(
            ctx,
            client,
            &route,
            ctx.load.requests,
            is_post.then(|| ids.clone()),
        )
        .await;
        // Every repetition ran between the snapshots (the billing POST runs once).
        let ran = if is_post { s.count } else { s.count * ctx.reps };
        let cpu = before.per_request_us(&CpuSnapshot::take(&bootstraps), ran);
        if is_post {
            let sent: Vec<Uuid> = ids.lock().map(|v| v.clone()).unwrap_or_default();
            wait_stored(ctx, &sent, Duration::from_secs(60)).await?;
            e2e = Some((sent.len(), t0.elapsed()));
        }
        row_gateway(report, all_ok, refs, &route, &s, cpu);
    }
    let sent: Arc<Vec<Uuid>> = Arc::new(ids.lock().map(|v| v.clone()).unwrap_or_default());
    let get = billing_get_route(sent.clone());
    let before = CpuSnapshot::take(&bootstraps);
    let s = measure_gateway(ctx, client, &get, ctx.load.requests, None).await;
    let cpu = before.per_request_us(&CpuSnapshot::take(&bootstraps), s.count * ctx.reps);
    row_gateway(report, all_ok, refs, &get, &s, cpu);

    report.heading(
        "Gateway latency by concurrency",
        "`GET /api/movies/{id}` through the gateway with 1 to the fixed number of requests in \
         flight (each a warm instance): where the latency comes from queueing for the machine's \
         cores rather than from the path itself.",
    );
    report.table(&["in flight", "n", "p50", "p99", "max", "req/s", "errors"]);
    let sweep_route = inventory_routes(0).remove(0);
    let mut level = 1;
    let mut sweep: Vec<(f64, Summary)> = Vec::new();
    while level <= c {
        let s = measure_gateway_at(
            ctx,
            client,
            &sweep_route,
            ctx.load.requests / 2,
            level,
            None,
        )
        .await;
        *all_ok &= s.errors == 0;
        let mut cells = vec![level.to_string()];
        cells.extend(latency_cells(&s));
        report.row(&cells);
        sweep.push((level as f64, s));
        level *= 2;
    }
    write_sweep_charts(ctx, report, &sweep)?;

    report.heading(
        "Billing end to end",
        "`POST /api/billing` through the gateway at the fixed concurrency (publish with \
         confirm) -> RabbitMQ -> the event source mapping (batch 100, batching window 500 ms, \
         as on AWS) -> `billing-consumer` -> stored in PostgreSQL; from the first POST to the \
         last order readable in the database.",
    );
    report.table(&["orders", "stored", "elapsed s", "orders/s"]);
    if let Some((n, elapsed)) = e2e {
        let rate = n as f64 / elapsed.as_secs_f64().max(1e-9);
        report.row(&[
            n.to_string(),
            n.to_string(),
            format!("{:.2}", elapsed.as_secs_f64()),
            format!("{rate:.0}"),
        ]);
    }

    super::search::search_at_scale(ctx, client, report, all_ok).await?;

    report.heading(
        "Peak memory (RSS) under load",
        "VmHWM of every instance the gateway ran, read from `/proc/<pid>/status` after the load \
         above (what Lambda reports as Max Memory Used). Lambda bills the configured memory, not \
         this; the figure says how small the memory size may go.",
    );
    report.table(&[
        "function",
        "instances",
        "peak RSS MiB (max)",
        "median MiB",
        "target",
        "result",
    ]);
    for f in FUNCTIONS {
        let pids = bench::proc::children_running(&ctx.functions_dir.join(f));
        let mut kib: Vec<u64> = pids
            .iter()
            .filter_map(|p| bench::proc::vm_hwm_kib(*p))
            .collect();
        kib.sort_unstable();
        let max = kib.last().copied().unwrap_or_default();
        let mid = kib.get(kib.len() / 2).copied().unwrap_or_default();
        let verdict = report.check(
            &format!("peak RSS {f}"),
            &format!("{} MiB", mib(max * 1024)),
            "<= 20 MiB",
            !kib.is_empty() && max <= RSS_TARGET_KIB,
        );
        report.row(&[
            f.to_owned(),
            format!("{} (alive: {})", kib.len(), lambda.instances(f).await),
            mib(max * 1024),
            mib(mid * 1024),
            "<= 20 MiB".into(),
            verdict,
        ]);
    }
    Ok(())
}
