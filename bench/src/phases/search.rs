//! Title search at catalogue scale through the gateway: a rare and a common pattern against
//! `GET /api/movies/{id}` in the same run, right after a burst of inserts (statistics that lag)
//! and again after `ANALYZE`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bench::proc::CpuSnapshot;
use bench::report::{Report, latency_cells, ratio};
use bench::setup::{MOVIES_DB, SEED_MOVIES, pg_err};
use bench::stats::Summary;
use http::Method;

use super::gateway_load::measure_gateway;
use super::references::RefKind;
use super::routes::{Route, inventory_routes};
use crate::{Ctx, FUNCTIONS, say};

/// The catalogue the search runs against: the seeded movies plus one burst.
const CATALOGUE: i64 = 100_000;
/// One movie in this many of the burst is titled `Rare gem <n>`.
const RARE_EVERY: i64 = 10_000;
/// Each search's p99 within this many times that of `GET /api/movies/{id}`.
const TARGET_RATIO: f64 = 3.0;

fn search(name: &'static str, title: &'static str) -> Route {
    Route {
        name,
        method: Method::GET,
        path: Arc::new(move |_| format!("/api/movies?title={title}")),
        body: None,
        kind: RefKind::Read,
    }
}

pub(super) async fn search_at_scale(
    ctx: &Ctx,
    client: &Arc<bench::http::Client>,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    let db = ctx.svc.connect(&ctx.svc.admin(MOVIES_DB)).await?;
    let have: i64 = db
        .query_one("SELECT count(*) FROM movies", &[])
        .await
        .map_err(|e| pg_err(&e))?
        .get(0);
    let burst = (CATALOGUE - have).max(CATALOGUE - SEED_MOVIES);
    say(&format!(
        "title search: a burst of {burst} inserts (catalogue {}), then the searches",
        have + burst
    ));
    db.execute(
        "INSERT INTO movies (title, description)
           SELECT CASE WHEN g % $2 = 0 THEN 'Rare gem ' || g ELSE 'Bench movie burst ' || g END,
                  'Inserted in one burst by make bench'
             FROM generate_series(1, $1::bigint) g",
        &[&burst, &RARE_EVERY],
    )
    .await
    .map_err(|e| format!("the burst of inserts: {}", pg_err(&e)))?;
    let total = have + burst;

    report.heading(
        &format!("Title search at {total} movies"),
        &format!(
            "`GET /api/movies?title=` through the gateway, newest first, against \
             `GET /api/movies/{{id}}` in the same run: a common pattern (`movie`, nearly every \
             title) and a rare one (`rare gem`, {} titles spread through the catalogue). Measured \
             right after a burst of {burst} inserts, while the statistics still describe the \
             smaller table, and again after `ANALYZE`. Target: each search's p99 within \
             {TARGET_RATIO}x of the lookup's. `GET /api/movies` (the first page of 100, no \
             search) is the reference for the page itself.",
            burst / RARE_EVERY
        ),
    );
    report.table(&[
        "statistics",
        "route",
        "n",
        "p50",
        "p99",
        "max",
        "req/s",
        "errors",
        "p99 / lookup",
        "CPU µs/req gateway+client / function / PostgreSQL",
        "result",
    ]);
    let paths: Vec<PathBuf> = FUNCTIONS
        .iter()
        .map(|f| ctx.functions_dir.join(f))
        .collect();
    let bootstraps: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    // Each route's latency and its CPU per request (every repetition ran between the snapshots).
    let measure = |route: Route| {
        let bootstraps = bootstraps.clone();
        async move {
            let before = CpuSnapshot::take(&bootstraps);
            let s = measure_gateway(ctx, client, &route, ctx.load.requests, None).await;
            let cpu = before.per_request_us(&CpuSnapshot::take(&bootstraps), s.count * ctx.reps);
            (route, s, cpu)
        }
    };
    for stats in ["after the burst", "after ANALYZE"] {
        if stats == "after ANALYZE" {
            db.batch_execute("ANALYZE movies")
                .await
                .map_err(|e| format!("ANALYZE: {}", pg_err(&e)))?;
        }
        let (route, lookup, cpu) = measure(inventory_routes(0).remove(0)).await;
        *all_ok &= lookup.errors == 0;
        row(
            report,
            stats,
            &route,
            &lookup,
            &lookup,
            cpu,
            "baseline".into(),
        );
        // The plain first page: the common pattern's page size (100 movies) without a search,
        // which tells the cost of the page (JSON, transport) from the cost of searching.
        let (route, page, cpu) = measure(Route {
            name: "GET /api/movies",
            method: Method::GET,
            path: Arc::new(|_| "/api/movies".into()),
            body: None,
            kind: RefKind::Read,
        })
        .await;
        *all_ok &= page.errors == 0;
        let verdict = "reference: same page size".into();
        row(report, stats, &route, &page, &lookup, cpu, verdict);
        for route in [
            search("GET /api/movies?title=movie", "movie"),
            search("GET /api/movies?title=rare%20gem", "rare%20gem"),
        ] {
            let (route, s, cpu) = measure(route).await;
            *all_ok &= s.errors == 0;
            let within = s.p99.as_secs_f64() <= TARGET_RATIO * lookup.p99.as_secs_f64();
            let verdict = report.check(
                &format!("{} {stats}", route.name),
                &ratio(s.p99, lookup.p99),
                &format!("<= {TARGET_RATIO}x the lookup"),
                s.errors == 0 && within,
            );
            row(report, stats, &route, &s, &lookup, cpu, verdict);
        }
    }
    Ok(())
}

fn row(
    report: &mut Report,
    stats: &str,
    route: &Route,
    s: &Summary,
    lookup: &Summary,
    cpu: (f64, f64, f64),
    verdict: String,
) {
    let mut cells = vec![stats.to_owned(), format!("`{}`", route.name)];
    cells.extend(latency_cells(s));
    cells.push(ratio(s.p99, lookup.p99));
    cells.push(format!("{:.0} / {:.0} / {:.0}", cpu.0, cpu.1, cpu.2));
    cells.push(verdict);
    report.row(&cells);
}
