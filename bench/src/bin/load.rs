//! `make load`: traffic for the local dashboard (`/_local/dashboard`). Loopback only, bounded in
//! time and count. Ramps closed-loop users up and down (1, 2, 4, 8, 16, 8, 4, 2, 1) over a mix
//! of the routes (list, get, create, update, delete movies; queue an order and read it back;
//! health), then pauses the billing event source mapping, queues orders so the backlog builds,
//! resumes it and lets it drain. One progress line per step. Exits 1 if any answer was a 5xx.
//! Some 404s are expected: an order read back before the consumer stored it (always while
//! billing is paused), an id another user just deleted. At the end it deletes every movie it
//! created and has not deleted, so the catalogue is as it found it (orders stay: the API never
//! removes an order).
//!
//! Env: GATEWAY_URL (default http://127.0.0.1:3000; must be loopback), TOKEN (an access token,
//! `make -s token`), LOAD_STEP_SECS (default 8), LOAD_MAX_REQUESTS per step (default 5000).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bench::http::Client;
use bench::load::{Load, run};
use bytes::Bytes;
use http::Request;
use http_body_util::Full;

#[derive(Default)]
struct Counts {
    ok: AtomicUsize,
    c4xx: AtomicUsize,
    c429: AtomicUsize,
    c5xx: AtomicUsize,
    failed: AtomicUsize,
}

struct Ctx {
    client: Client,
    host: String,
    token: String,
    movies: Mutex<Vec<i64>>,
    orders: Mutex<Vec<String>>,
    counts: Counts,
}

impl Ctx {
    fn req(&self, method: &str, path: &str, body: Option<String>) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", self.token));
        if body.is_some() {
            b = b.header("content-type", "application/json");
        }
        b.body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap_or_default()
    }

    async fn one(&self, worker: usize, i: usize, orders_only: bool) -> bool {
        let pick = |v: &Mutex<Vec<i64>>| v.lock().ok().and_then(|v| v.last().copied());
        let req = if orders_only {
            self.req("POST", "/api/billing", Some(order(i)))
        } else {
            match i % 10 {
                0 | 1 => self.req(
                    "POST",
                    "/api/movies",
                    Some(format!(
                        r#"{{"title":"Load {i}","description":"make load"}}"#
                    )),
                ),
                2 => match pick(&self.movies) {
                    Some(id) => self.req("GET", &format!("/api/movies/{id}"), None),
                    None => self.req("GET", "/api/movies?title=Load", None),
                },
                3 => match pick(&self.movies) {
                    Some(id) => self.req(
                        "PUT",
                        &format!("/api/movies/{id}"),
                        Some(format!(r#"{{"title":"Load {i}","description":"updated"}}"#)),
                    ),
                    None => self.req("GET", "/api/movies", None),
                },
                4 => match self.movies.lock().ok().and_then(|mut v| v.pop()) {
                    Some(id) => self.req("DELETE", &format!("/api/movies/{id}"), None),
                    None => self.req("GET", "/api/movies", None),
                },
                5 | 6 => self.req("POST", "/api/billing", Some(order(i))),
                7 => match self.orders.lock().ok().and_then(|v| v.last().cloned()) {
                    Some(id) => self.req("GET", &format!("/api/billing/orders/{id}"), None),
                    None => self.req("GET", "/health", None),
                },
                8 => self.req("GET", "/api/movies?title=Load", None),
                _ => self.req("GET", "/health", None),
            }
        };
        let path = req.uri().path().to_owned();
        let method = req.method().clone();
        match self.client.send(worker, req).await {
            Ok((status, body)) => {
                let s = status.as_u16();
                let c = &self.counts;
                match s {
                    200..=299 => c.ok.fetch_add(1, Ordering::Relaxed),
                    429 => c.c429.fetch_add(1, Ordering::Relaxed),
                    400..=499 => c.c4xx.fetch_add(1, Ordering::Relaxed),
                    _ => c.c5xx.fetch_add(1, Ordering::Relaxed),
                };
                if status.is_success() && method == http::Method::POST {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                    if let Some(id) = v["id"].as_i64()
                        && let Ok(mut m) = self.movies.lock()
                    {
                        m.push(id);
                    }
                    if let Some(id) = v["message_id"].as_str()
                        && let Ok(mut o) = self.orders.lock()
                    {
                        o.push(id.to_owned());
                        let len = o.len();
                        if len > 100 {
                            o.drain(..len - 100);
                        }
                    }
                }
                if s >= 500 {
                    eprintln!("  {s} from {method} {path}");
                }
                s < 500
            }
            Err(e) => {
                self.counts.failed.fetch_add(1, Ordering::Relaxed);
                eprintln!("  {method} {path}: {e}");
                false
            }
        }
    }
}

fn order(i: usize) -> String {
    format!(
        r#"{{"user_id":"{}","number_of_items":"{}","total_amount":"{}"}}"#,
        i % 50 + 1,
        i % 5 + 1,
        (i % 90 + 10) * 3
    )
}

/// Enables or disables billing-consumer's event source mapping through the gateway's Lambda
/// API, as `make billing-pause` / `billing-resume` do with the AWS CLI: ListEventSourceMappings
/// for its UUID, then UpdateEventSourceMapping.
async fn billing_mapping(ctx: &Ctx, enabled: bool) -> Result<(), String> {
    let call = |method: &str, path: &str, body: String| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("host", &ctx.host)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())
    };
    let list = "/2015-03-31/event-source-mappings/?FunctionName=billing-consumer";
    let (status, body) = ctx
        .client
        .send(0, call("GET", list, String::new())?)
        .await?;
    if !status.is_success() {
        return Err(format!("GET {list}: {status}"));
    }
    let listed: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    let Some(uuid) = listed["EventSourceMappings"][0]["UUID"].as_str() else {
        return Err("the gateway has no event source mapping for billing-consumer".into());
    };
    let path = format!("/2015-03-31/event-source-mappings/{uuid}");
    let body = serde_json::json!({ "Enabled": enabled }).to_string();
    let (status, _) = ctx.client.send(0, call("PUT", &path, body)?).await?;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("PUT {path}: {status}"))
    }
}

/// Deletes the movies the run created and did not delete itself.
async fn clean_up(ctx: &Ctx) -> Result<usize, String> {
    let ids = std::mem::take(&mut *ctx.movies.lock().map_err(|e| e.to_string())?);
    for id in &ids {
        let (status, _) = ctx
            .client
            .send(0, ctx.req("DELETE", &format!("/api/movies/{id}"), None))
            .await?;
        // 404: deleted meanwhile by someone else, which is what cleaning up wants too.
        if !status.is_success() && status != http::StatusCode::NOT_FOUND {
            return Err(format!("DELETE /api/movies/{id}: {status}"));
        }
    }
    Ok(ids.len())
}

async fn step(ctx: &Arc<Ctx>, label: &str, users: usize, secs: u64, max: usize, orders_only: bool) {
    let load = Load {
        concurrency: users,
        requests: max,
        max_time: Duration::from_secs(secs),
    };
    let c = ctx.clone();
    let s = run(load, move |w, i| {
        let c = c.clone();
        async move { c.one(w, i, orders_only).await }
    })
    .await;
    let k = &ctx.counts;
    println!(
        "{label:<22} users {users:>2}  {:>5} requests  {:>6.1} req/s  p50 {:>6.1} ms  p99 {:>7.1} ms   totals: 2xx {} 4xx {} 429 {} 5xx {} failed {}",
        s.count,
        s.rps,
        s.p50.as_secs_f64() * 1000.0,
        s.p99.as_secs_f64() * 1000.0,
        k.ok.load(Ordering::Relaxed),
        k.c4xx.load(Ordering::Relaxed),
        k.c429.load(Ordering::Relaxed),
        k.c5xx.load(Ordering::Relaxed),
        k.failed.load(Ordering::Relaxed),
    );
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let url = std::env::var("GATEWAY_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let addr: SocketAddr = match host.parse() {
        Ok(a) if SocketAddr::ip(&a).is_loopback() => a,
        _ => {
            eprintln!(
                "load: GATEWAY_URL must be http://127.0.0.1:<port> (loopback only), not {url}"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let Ok(token) = std::env::var("TOKEN") else {
        eprintln!("load: set TOKEN (make -s token)");
        return std::process::ExitCode::from(2);
    };
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let secs = env("LOAD_STEP_SECS", 8).clamp(1, 120);
    let max = env("LOAD_MAX_REQUESTS", 5000).clamp(1, 100_000) as usize;
    let users = [1, 2, 4, 8, 16, 8, 4, 2, 1];
    let ctx = Arc::new(Ctx {
        client: Client::new(addr, 16),
        host,
        token,
        movies: Mutex::new(Vec::new()),
        orders: Mutex::new(Vec::new()),
        counts: Counts::default(),
    });
    println!(
        "load: {url}, {} steps of {secs} s (at most {max} requests each), then billing pause/resume; watch {url}/_local/dashboard",
        users.len()
    );
    for (n, u) in users.iter().enumerate() {
        step(
            &ctx,
            &format!("ramp {}/{}", n + 1, users.len()),
            *u,
            secs,
            max,
            false,
        )
        .await;
    }
    if let Err(e) = billing_mapping(&ctx, false).await {
        eprintln!("load: {e}");
        return std::process::ExitCode::FAILURE;
    }
    step(&ctx, "billing paused", 4, secs * 2, max, true).await;
    if let Err(e) = billing_mapping(&ctx, true).await {
        eprintln!("load: {e}");
        return std::process::ExitCode::FAILURE;
    }
    step(&ctx, "billing resumed", 1, secs * 2, max / 4, false).await;
    match clean_up(&ctx).await {
        Ok(n) => println!("load: deleted the {n} movies it created and had not deleted"),
        Err(e) => {
            eprintln!("load: cleaning up: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    let k = &ctx.counts;
    let bad = k.c5xx.load(Ordering::Relaxed) + k.failed.load(Ordering::Relaxed);
    if bad > 0 {
        println!("load: {bad} answers were 5xx or failed");
        return std::process::ExitCode::FAILURE;
    }
    println!("load: done, no 5xx");
    std::process::ExitCode::SUCCESS
}
