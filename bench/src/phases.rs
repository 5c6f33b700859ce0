//! The phases of `make bench`, in the order they run; each module is one phase (or the
//! workload shared by several).

mod cold;
mod functions;
mod gateway;
mod gateway_load;
mod inprocess;
mod power;
mod power_report;
mod references;
mod routes;
mod search;
mod sizes;

use bench::report::{Report, latency_cells};

use crate::{Ctx, say};

/// Runs the references, then the phases `BENCH_ONLY` selects (all by default).
pub async fn run(
    ctx: &Ctx,
    amqp: &lapin::Connection,
    admin_channel: &lapin::Channel,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    say("reference round trips: PostgreSQL SELECT 1 and INSERT, RabbitMQ publish+confirm");
    let refs = references::measure_all(ctx, amqp).await?;
    report.heading(
        "Reference round trips (same run)",
        "One PostgreSQL `SELECT 1` (simple query), one committed single-row `INSERT` (a WAL flush: \
         `fsync = on`) and one persistent RabbitMQ publish waiting for its confirm: the floor \
         under any request that uses them. Figures below read as multiples of these.",
    );
    report.table(&["round trip", "n", "p50", "p99", "max", "req/s", "errors"]);
    for (name, s) in [
        ("PostgreSQL SELECT 1, sequential", &refs.select_seq),
        ("PostgreSQL SELECT 1, concurrency 16", &refs.select_c),
        ("PostgreSQL INSERT (commit), concurrency 16", &refs.insert_c),
        (
            "RabbitMQ publish + confirm, concurrency 16",
            &refs.publish_c,
        ),
        (
            "order lookup SQL unprepared (as billing-api runs it), concurrency 16",
            &refs.lookup_unprepared_c,
        ),
        (
            "order lookup SQL prepared once per connection, concurrency 16",
            &refs.lookup_prepared_c,
        ),
    ] {
        let mut cells = vec![name.replace("16", &ctx.load.concurrency.to_string())];
        cells.extend(latency_cells(s));
        report.row(&cells);
        *all_ok &= s.errors == 0;
    }

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |phase: &str| only.is_empty() || only.split(',').any(|p| p.trim() == phase);
    if wanted("size") {
        say("sizes");
        sizes::sizes(ctx, report)?;
    }
    if wanted("cold") {
        say("cold starts");
        cold::cold_starts(ctx, report, all_ok).await?;
    }
    if wanted("power") {
        say("power tuning: cold and warm under Lambda's CPU share at each memory size");
        power::power_tuning(ctx, report, all_ok).await?;
    }
    if wanted("inprocess") {
        say("warm latency in-process (router.oneshot against the real database and broker)");
        inprocess::consumer_throughput_and_inprocess(ctx, &refs, report, all_ok).await?;
    }

    // Everything published so far (cold starts, in-process POSTs) would otherwise be consumed
    // during the end-to-end measurement.
    let _ = admin_channel
        .queue_purge(ctx.queue.as_str().into(), Default::default())
        .await;

    if wanted("gateway") {
        gateway::through_gateway(ctx, admin_channel, &refs, report, all_ok, false).await?;
    } else if only.split(',').any(|p| p.trim() == "search") {
        // The title search is part of the gateway phase; alone, it runs after the warm-up only.
        gateway::through_gateway(ctx, admin_channel, &refs, report, all_ok, true).await?;
    }
    Ok(())
}
