//! Cold starts under the local Lambda service: exec of `bootstrap` to its first answer.

use std::time::{Duration, Instant};

use bench::report::Report;
use bench::stats::{median, ms};
use bytes::Bytes;
use local_gateway::LambdaService;

use super::functions::{fixture, function_config, http_ok, rmq_event};
use crate::{Ctx, say};

const COLD_START_TARGET: Duration = Duration::from_millis(15);

pub(super) async fn cold_starts(
    ctx: &Ctx,
    report: &mut Report,
    all_ok: &mut bool,
) -> Result<(), String> {
    report.heading(
        "Cold start",
        "From exec of the release `bootstrap` to its first answer, under the local Lambda service \
         (a runtime API per instance, a clean environment): what Lambda bills as Init Duration plus \
         the first invocation. Init here is real: configuration, the pool, and the first request \
         opens the first PostgreSQL connection (inventory: `GET /api/movies/1`; billing-api: a \
         `POST /api/billing` that connects to RabbitMQ (the queue is already declared, as setup \
         does on deploy) and waits for the confirm; billing-consumer: a 1-message batch stored in PostgreSQL). The Secrets Manager \
         row adds fetching the database credentials from Secrets Manager (moto) during init.",
    );
    report.table(&[
        "function",
        "starts",
        "init median",
        "first answer median",
        "first answer max",
        "errors",
        "target",
        "result",
    ]);
    let inventory_event = Bytes::from(fixture(ctx, "inventory-get.json")?.to_string());
    let billing_event = Bytes::from(fixture(ctx, "billing-post.json")?.to_string());
    let cases: [(&str, &str, bool); 4] = [
        ("inventory", "inventory", false),
        (
            "inventory",
            "inventory (credentials from Secrets Manager)",
            true,
        ),
        ("billing-api", "billing-api", false),
        ("billing-consumer", "billing-consumer", false),
    ];
    for (f, label, secrets) in cases {
        let cfg = function_config(ctx, f, secrets, 1);
        let mut totals = Vec::new();
        let mut inits = Vec::new();
        let mut errors = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        for _ in 0..ctx.cold_starts {
            if Instant::now() > deadline {
                break;
            }
            let payload = match f {
                "inventory" => inventory_event.clone(),
                "billing-api" => billing_event.clone(),
                _ => rmq_event(&ctx.queue, 1)?.0,
            };
            let lambda = LambdaService::new([cfg.clone()]);
            match lambda.invoke(f, payload).await {
                Ok(inv) => {
                    let ok = if f == "billing-consumer" {
                        inv.function_error.is_none()
                    } else {
                        http_ok(&inv)
                    };
                    if !ok {
                        errors += 1;
                        say(&format!(
                            "{label}: unexpected answer {}",
                            String::from_utf8_lossy(&inv.payload)
                        ));
                    }
                    totals.push(inv.total);
                    if let Some(i) = inv.init_duration {
                        inits.push(i);
                    }
                }
                Err(e) => {
                    errors += 1;
                    say(&format!("{label}: {e}"));
                }
            }
            lambda.shutdown().await;
        }
        *all_ok &= errors == 0;
        let med = median(&totals);
        let verdict = report.check(
            &format!("cold start {label}"),
            &format!("median {} ms", ms(med)),
            "median <= 15 ms",
            errors == 0 && med <= COLD_START_TARGET,
        );
        report.row(&[
            label.to_owned(),
            totals.len().to_string(),
            ms(median(&inits)),
            ms(med),
            ms(totals.iter().max().copied().unwrap_or_default()),
            errors.to_string(),
            "median <= 15 ms".into(),
            verdict,
        ]);
    }
    Ok(())
}
