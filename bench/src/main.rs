//! `make bench`: runs every measurement (targets in docs/performance.md) and writes `bench/results.md`.
//!
//! Phases (modules under `phases/`): reference round trips (PostgreSQL, RabbitMQ) -> sizes ->
//! cold starts under the local Lambda service -> warm latency in-process -> consumer throughput
//! -> everything through the local gateway (latency, billing end to end, peak RSS). Every loop
//! is bounded in count and time; all traffic stays on loopback.
//!
//! Knobs (environment): `BENCH_CONCURRENCY` (16), `BENCH_REQUESTS` per route (2000),
//! `BENCH_COLD_STARTS` per function (20), `BENCH_FUNCTIONS_DIR` (target/release),
//! `BENCH_LAMBDA_DIR` (target/lambda), `BENCH_KEEP=1` keeps the databases afterwards,
//! `BENCH_ONLY=size,cold,inprocess,gateway` runs only those phases (the references always run;
//! `search` is the title search of the gateway phase alone),
//! `BENCH_FUNCTION_LOGS=1` forwards the functions' logs, `BENCH_REPEAT` (3): each latency
//! figure is the run with the median p99 out of this many, `BENCH_WRITE=0` writes no file.
//! The power-tuning phase (`BENCH_ONLY=power`) has its own knobs: see `phases/power.rs`.

mod phases;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bench::load::Load;
use bench::report::Report;
use bench::setup::{self, Cognito, MOVIES_ROLE, Services};
use uuid::Uuid;

const FUNCTIONS: [&str; 3] = ["inventory", "billing-api", "billing-consumer"];

/// `BENCH_WRITE=0`: print only; leave `bench/results.md`, the charts and
/// `docs/performance.md` alone (profiling and A/B runs).
fn writes_files() -> bool {
    std::env::var("BENCH_WRITE").map_or(true, |v| v.trim() != "0")
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Ctx {
    svc: Services,
    /// Names this run's queue, secrets and DLQ.
    run_id: String,
    cognito: Cognito,
    dlq_url: String,
    movies_secret_arn: String,
    queue: String,
    repo: PathBuf,
    functions_dir: PathBuf,
    load: Load,
    cold_starts: usize,
    /// Each latency figure is the median-p99 run of this many.
    reps: usize,
}

#[tokio::main]
async fn main() -> ExitCode {
    settings::install_crypto_provider();
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bench: some requests failed (see the errors column)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn say(what: &str) {
    eprintln!("\x1b[1m[bench]\x1b[0m {what}");
}

async fn run() -> Result<bool, String> {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let repo = repo.canonicalize().map_err(|e| e.to_string())?;
    let functions_dir = std::env::var("BENCH_FUNCTIONS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo.join("target/release"));
    for f in FUNCTIONS {
        let p = functions_dir.join(f);
        if !p.exists() {
            return Err(format!(
                "{} is missing: build the functions first (cargo build --release -p {f})",
                p.display()
            ));
        }
    }
    let svc = Services::from_env()?;
    let started = Instant::now();
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    say("setting up: databases, Cognito user pool and token, DLQ, secret, queue");
    svc.databases().await?;
    let run_id = Uuid::new_v4().simple().to_string();
    let cognito = Cognito::create(&run_id).await?;
    let dlq_url = setup::dead_letter_queue(&format!("bench-dlq-{run_id}")).await?;
    let movies_secret_arn =
        setup::credentials_secret(&format!("bench/movies/{run_id}"), MOVIES_ROLE).await?;
    let queue = format!("bench_billing_{run_id}");
    let ctx = Ctx {
        svc,
        run_id,
        cognito,
        dlq_url,
        movies_secret_arn,
        queue,
        repo,
        functions_dir,
        load: Load {
            concurrency: knob("BENCH_CONCURRENCY", 16).max(1),
            requests: knob("BENCH_REQUESTS", 2000).clamp(1, 4000),
            max_time: Duration::from_secs(30),
        },
        cold_starts: knob("BENCH_COLD_STARTS", 20).max(1),
        reps: knob("BENCH_REPEAT", 3).clamp(1, 5),
    };
    let amqp = lapin::Connection::connect(
        &ctx.svc.amqp_url,
        lapin::ConnectionProperties::default().with_connection_name("bench".into()),
    )
    .await
    .map_err(|e| format!("RabbitMQ: {e}"))?;
    let admin_channel = amqp.create_channel().await.map_err(|e| e.to_string())?;
    broker::topology::declare(&amqp, &ctx.queue)
        .await
        .map_err(|e| format!("declaring {}: {e}", ctx.queue))?;

    let mut report = Report::default();
    let mut all_ok = true;
    let outcome = phases::run(&ctx, &amqp, &admin_channel, &mut report, &mut all_ok).await;

    say("cleaning up");
    let _ = admin_channel
        .queue_delete(ctx.queue.as_str().into(), Default::default())
        .await;
    for q in [
        broker::topology::dead_letter_queue(&ctx.queue),
        format!("{}_reference", ctx.queue),
    ] {
        let _ = admin_channel
            .queue_delete(q.as_str().into(), Default::default())
            .await;
    }
    let _ = admin_channel
        .exchange_delete(
            broker::topology::dead_letter_exchange(&ctx.queue)
                .as_str()
                .into(),
            Default::default(),
        )
        .await;
    let _ = amqp.close(200, "done".into()).await;
    ctx.cognito.delete().await;
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = ctx.svc.drop_databases().await;
    }
    outcome?;

    let header = format!(
        "## Benchmark results\n\n\
         Written by `make bench` ({}). Machine: {} ({} cores), load average at start {}; \
         concurrency {}, {} requests per route (each latency row: the run with the median p99 of \
         {}), {} cold starts per function; took {:.0} s. Times in ms.\n",
        git_describe(&ctx.repo),
        cpu_model(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load_avg
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        ctx.load.concurrency,
        ctx.load.requests,
        ctx.reps,
        ctx.cold_starts,
        started.elapsed().as_secs_f64(),
    );
    let summary = format!(
        "\n**{} PASS, {} MISS** against the targets.\n",
        report.passes, report.misses
    );
    let text = format!(
        "{header}{summary}\n{}\n{}",
        report.summary_table(),
        report.text()
    );
    println!("{text}");
    if writes_files() {
        let path = ctx.repo.join("bench/results.md");
        std::fs::write(&path, &text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        say(&format!("written to {}", path.display()));
    }
    Ok(all_ok)
}

fn git_describe(repo: &Path) -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(repo)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .map(|c| format!("commit {c}"))
        .unwrap_or_else(|| "no git".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.into())
}
