//! Power tuning: each function's cold start and warm latency under the CPU share and memory
//! limit Lambda gives 128, 256, 512 and 1,024 MB (`bench::cgroup`), next to the full core, with
//! the cost per million invocations at each size (`bench::pricing`).
//!
//! Every function runs as on AWS: credentials from Secrets Manager (moto) during init, then a
//! first invocation that makes its first database or broker round trip. A cold start is a fresh
//! process of the release `bootstrap`; the warm figures are sequential invocations of the last
//! instance, as one execution environment gets them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bench::cgroup::{Cap, Cgroups, CpuStat, DEFAULT_PERIOD_US, cpu_share};
use bench::report::Report;
use bench::setup::{self, ORDERS_ROLE};
use bench::stats::median;
use bytes::Bytes;
use local_gateway::{FunctionConfig, LambdaService};

use super::functions::{fixture, function_env, http_ok, rmq_event};
use super::power_report::{self, Row};
use crate::{Ctx, FUNCTIONS, knob, say};

/// Where the phase runs the functions: capped when the machine lets us, full core always.
pub(super) struct Power {
    pub(super) cgroups: Result<Cgroups, String>,
    pub(super) sizes: Vec<u32>,
    pub(super) wrapper: PathBuf,
    /// Time from exec of the wrapper to exec of the bootstrap, uncapped (median).
    pub(super) wrapper_overhead: Option<Duration>,
    pub(super) cold_starts: usize,
    pub(super) warm: usize,
    /// `BENCH_PROFILE`: a command put in front of each bootstrap at `BENCH_PROFILE_MEMORY`
    /// (256), `{function}` and `{pid}` replaced (`perf record -g -o /tmp/p/{function}.{pid} --`).
    profile: Option<(u32, String)>,
    secrets: Secrets,
}

struct Secrets {
    orders: String,
    amqp: String,
    amqp_endpoint: String,
}

/// The samples of one function at one setting.
#[derive(Default)]
pub(super) struct Samples {
    pub(super) inits: Vec<Duration>,
    pub(super) firsts: Vec<Duration>,
    pub(super) warm: Vec<Duration>,
    pub(super) errors: usize,
    /// CPU time of each cold start up to its first answer (when the machine's cgroups give it).
    pub(super) cold_cpu: Vec<Duration>,
    /// CPU time and throttling of all the warm invocations together.
    pub(super) warm_throttle: CpuStat,
}

fn sizes_knob() -> Vec<u32> {
    let raw = std::env::var("BENCH_POWER_MEMORY").unwrap_or_else(|_| "128,256,512,1024".into());
    let mut v: Vec<u32> = raw
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .filter(|m| (128..=10240).contains(m))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// `amqp://user:pass@host:port/vhost` -> (`amqp://host:port`, user, pass).
fn split_amqp_url(url: &str) -> Result<(String, String, String), String> {
    let bad = || format!("AMQP_URL {url:?} is not amqp://user:password@host:port/vhost");
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (userinfo, hostpart) = rest.rsplit_once('@').ok_or_else(bad)?;
    let (user, password) = userinfo.split_once(':').ok_or_else(bad)?;
    let host = hostpart
        .split('/')
        .next()
        .filter(|h| !h.is_empty())
        .ok_or_else(bad)?;
    Ok((format!("{scheme}://{host}"), user.into(), password.into()))
}

impl Power {
    pub(super) async fn prepare(ctx: &Ctx, run_id: &str) -> Result<Self, String> {
        let period = knob("BENCH_CFS_PERIOD_US", DEFAULT_PERIOD_US as usize).clamp(1000, 1_000_000);
        let cgroups = Cgroups::detect(period as u32);
        let wrapper = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("lambda-cap");
        if cgroups.is_ok() && !wrapper.exists() {
            return Err(format!(
                "{} is missing: cargo build --release -p bench builds it",
                wrapper.display()
            ));
        }
        let orders =
            setup::credentials_secret(&format!("bench/orders/{run_id}"), ORDERS_ROLE).await?;
        let (amqp_endpoint, user, password) = split_amqp_url(&ctx.svc.amqp_url)?;
        let amqp =
            setup::credentials_secret(&format!("bench/amqp/{run_id}"), (&user, &password)).await?;
        let profile = std::env::var("BENCH_PROFILE")
            .ok()
            .filter(|p| !p.trim().is_empty())
            .map(|p| (knob("BENCH_PROFILE_MEMORY", 256) as u32, p));
        let wrapper_overhead = cgroups
            .is_ok()
            .then(|| wrapper_overhead(&wrapper))
            .flatten();
        Ok(Self {
            cgroups,
            sizes: sizes_knob(),
            wrapper,
            wrapper_overhead,
            cold_starts: knob("BENCH_POWER_COLD_STARTS", 10).clamp(1, 100),
            warm: knob("BENCH_POWER_WARM", 200).clamp(1, 5000),
            profile,
            secrets: Secrets {
                orders,
                amqp,
                amqp_endpoint,
            },
        })
    }

    /// The function's environment as Terraform sets it: every credential from Secrets Manager.
    fn env(&self, ctx: &Ctx, f: &str) -> BTreeMap<String, String> {
        let mut env = function_env(ctx, f, true);
        if f != "inventory" {
            env.insert("DATABASE_SECRET_ARN".into(), self.secrets.orders.clone());
        }
        if f == "billing-api" {
            env.remove("AMQP_URL");
            env.insert("AMQP_ENDPOINT".into(), self.secrets.amqp_endpoint.clone());
            env.insert("AMQP_SECRET_ARN".into(), self.secrets.amqp.clone());
        }
        env
    }

    fn config(&self, ctx: &Ctx, f: &str, cap: Option<&Cap>) -> FunctionConfig {
        let bootstrap = ctx.functions_dir.join(f);
        let mut env = self.env(ctx, f);
        let mut cfg = match cap {
            None => FunctionConfig::new(f, &bootstrap),
            Some(cap) => {
                env.insert("LAMBDA_CAP_EXEC".into(), bootstrap.display().to_string());
                env.insert("LAMBDA_CAP_CGROUPS".into(), cap.procs_list());
                if let Some((mb, prefix)) = &self.profile
                    && Some(*mb) == cap.memory_mb
                {
                    env.insert("LAMBDA_CAP_PREFIX".into(), prefix.replace("{function}", f));
                }
                FunctionConfig::new(f, &self.wrapper)
            }
        };
        cfg.env = env;
        cfg.memory_mb = cap.and_then(|c| c.memory_mb).unwrap_or(1769);
        cfg.max_concurrency = 1;
        cfg.timeout = Duration::from_secs(10);
        cfg.forward_logs = std::env::var_os("BENCH_FUNCTION_LOGS").is_some();
        cfg
    }

    /// Cold starts one after another, then warm invocations of the last instance.
    async fn measure(&self, ctx: &Ctx, f: &str, cap: Option<&Cap>) -> Result<Samples, String> {
        let lambda = LambdaService::new([self.config(ctx, f, cap)]);
        let mut s = Samples::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        let label = cap
            .and_then(|c| c.memory_mb)
            .map_or("full core".to_owned(), |mb| format!("{mb} MB"));
        let used = || cap.map(Cap::cpu_stat).unwrap_or_default().usage_us;
        for i in 0..self.cold_starts {
            if i > 0 && Instant::now() > deadline {
                break;
            }
            lambda.stop_idle(f).await;
            let cpu_before = used();
            match lambda.invoke(f, payload(ctx, f)?).await {
                Ok(inv) if ok(f, &inv) => {
                    s.firsts.push(inv.total);
                    s.inits.extend(inv.init_duration);
                    let cpu = used().saturating_sub(cpu_before);
                    if cpu > 0 {
                        s.cold_cpu.push(Duration::from_micros(cpu));
                    }
                }
                Ok(inv) => {
                    s.errors += 1;
                    say(&format!(
                        "{f} at {label}: {}",
                        String::from_utf8_lossy(&inv.payload)
                    ));
                }
                Err(e) => {
                    s.errors += 1;
                    say(&format!("{f} at {label}: {e}"));
                }
            }
        }
        let before = cap.map(Cap::cpu_stat).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(20);
        for _ in 0..self.warm {
            if Instant::now() > deadline {
                break;
            }
            match lambda.invoke(f, payload(ctx, f)?).await {
                Ok(inv) if ok(f, &inv) && !inv.is_cold() => s.warm.push(inv.total),
                Ok(_) | Err(_) => s.errors += 1,
            }
        }
        let after = cap.map(Cap::cpu_stat).unwrap_or_default();
        s.warm_throttle = CpuStat {
            throttled_periods: after.throttled_periods
                - before.throttled_periods.min(after.throttled_periods),
            throttled_us: after.throttled_us - before.throttled_us.min(after.throttled_us),
            usage_us: after.usage_us - before.usage_us.min(after.usage_us),
        };
        lambda.shutdown().await;
        Ok(s)
    }
}

fn ok(f: &str, inv: &local_gateway::Invocation) -> bool {
    if f == "billing-consumer" {
        inv.function_error.is_none()
    } else {
        http_ok(inv)
    }
}

fn payload(ctx: &Ctx, f: &str) -> Result<Bytes, String> {
    Ok(match f {
        "inventory" => Bytes::from(fixture(ctx, "inventory-get.json")?.to_string()),
        "billing-api" => Bytes::from(fixture(ctx, "billing-post.json")?.to_string()),
        _ => rmq_event(&ctx.queue, 1)?.0,
    })
}

/// Median time from spawning the wrapper to its exec of a no-op program, minus the same for the
/// program alone: what the wrapper adds to a capped init before the cap applies.
fn wrapper_overhead(wrapper: &Path) -> Option<Duration> {
    let truth = ["/bin/true", "/usr/bin/true"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())?;
    let time = |program: &Path, via_wrapper: bool| {
        let mut samples = Vec::new();
        for _ in 0..30 {
            let mut cmd = std::process::Command::new(program);
            if via_wrapper {
                cmd.env("LAMBDA_CAP_EXEC", truth)
                    .env("LAMBDA_CAP_CGROUPS", "");
            }
            let t = Instant::now();
            if cmd.status().is_ok_and(|s| s.success()) {
                samples.push(t.elapsed());
            }
        }
        median(&samples)
    };
    let direct = time(truth, false);
    let wrapped = time(wrapper, true);
    Some(wrapped.saturating_sub(direct))
}

/// The phase: every function at every size (capped) and on the full core.
pub(super) async fn power_tuning(
    ctx: &Ctx,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    let power = Power::prepare(ctx, &ctx.run_id).await?;
    match &power.cgroups {
        Ok(c) => say(&format!("power tuning under {}", c.describe())),
        Err(why) => say(&format!(
            "power tuning: cgroups not writable here ({why}); measuring on the full core only"
        )),
    }
    let mut results: Vec<(&str, Vec<Row>)> = Vec::new();
    for f in FUNCTIONS {
        let mut rows = Vec::new();
        if let Ok(cgroups) = &power.cgroups {
            for &mb in &power.sizes {
                say(&format!(
                    "{f} at {mb} MB ({:.1}% of a core)",
                    cpu_share(mb) * 100.0
                ));
                let cap = cgroups.cap(mb)?;
                let samples = power.measure(ctx, f, Some(&cap)).await?;
                drop(cap);
                *all_ok &= samples.errors == 0;
                rows.push(Row::new(Some(mb), samples));
            }
        }
        say(&format!("{f} on the full core"));
        // In a group without limits when there are cgroups, for its CPU time.
        let unlimited = power
            .cgroups
            .as_ref()
            .ok()
            .map(Cgroups::unlimited)
            .transpose()?;
        let samples = power.measure(ctx, f, unlimited.as_ref()).await?;
        drop(unlimited);
        *all_ok &= samples.errors == 0;
        rows.push(Row::new(None, samples));
        results.push((f, rows));
    }
    power_report::write(ctx, &power, &results, report)?;
    if let Ok(cgroups) = &power.cgroups {
        consumer_batch_cpu(ctx, &power, cgroups, report).await?;
    }
    Ok(())
}

/// Batches of [`MAX_BILLING_BATCH`](billing::MAX_BILLING_BATCH) orders each.
const BATCHES: usize = 10;

/// billing-consumer's own CPU time per full batch (1,000 new orders, decoded, validated and
/// stored) at 256 MB, from the cgroup's usage: what the billing path costs per order, whatever
/// the database's share of the wall time. One warm-up batch, then [`BATCHES`] batches.
async fn consumer_batch_cpu(
    ctx: &Ctx,
    power: &Power,
    cgroups: &Cgroups,
    report: &mut Report,
) -> Result<(), String> {
    const F: &str = "billing-consumer";
    const MB: u32 = 256;
    let n = billing::MAX_BILLING_BATCH;
    let cap = cgroups.cap(MB)?;
    let lambda = LambdaService::new([power.config(ctx, F, Some(&cap))]);
    let mut cpu = Vec::with_capacity(BATCHES);
    for i in 0..=BATCHES {
        let event = rmq_event(&ctx.queue, n)?.0;
        let before = cap.cpu_stat().usage_us;
        let inv = lambda
            .invoke(F, event)
            .await
            .map_err(|e| format!("{F}: {e}"))?;
        if !ok(F, &inv) {
            return Err(format!(
                "{F}, batch of {n}: {}",
                String::from_utf8_lossy(&inv.payload)
            ));
        }
        if i > 0 {
            cpu.push(Duration::from_micros(
                cap.cpu_stat().usage_us.saturating_sub(before),
            ));
        }
    }
    lambda.shutdown().await;
    drop(cap);
    let per_batch = median(&cpu);
    let line = format!(
        "billing-consumer's CPU per batch of {n} orders at {MB} MB (median of {BATCHES}, warm): \
         **{:.1} ms**, {:.1} µs per order.",
        per_batch.as_secs_f64() * 1000.0,
        per_batch.as_secs_f64() * 1e6 / n as f64
    );
    say(&line);
    report.line(&line);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqp_url_splits_into_endpoint_and_credentials() {
        assert_eq!(
            split_amqp_url("amqp://guest:guest@127.0.0.1:5704/%2f").unwrap(),
            (
                "amqp://127.0.0.1:5704".into(),
                "guest".into(),
                "guest".into()
            )
        );
        assert!(split_amqp_url("amqp://127.0.0.1:5704").is_err());
    }
}
