//! How the bench runs a function: its environment, its Lambda service configuration, the
//! event fixtures it is invoked with.

use std::collections::BTreeMap;
use std::time::Duration;

use bench::setup::{MOVIES_DB, MOVIES_ROLE, ORDERS_DB, ORDERS_ROLE};
use bytes::Bytes;
use local_gateway::{FunctionConfig, Invocation};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Ctx;

pub(super) fn function_env(ctx: &Ctx, f: &str, secrets: bool) -> BTreeMap<String, String> {
    let s = &ctx.svc;
    let (db, role) = if f == "inventory" {
        (MOVIES_DB, MOVIES_ROLE)
    } else {
        (ORDERS_DB, ORDERS_ROLE)
    };
    let mut env: BTreeMap<String, String> = [
        ("DATABASE_HOST", s.pg_host.clone()),
        ("DATABASE_PORT", s.pg_port.to_string()),
        ("DATABASE_NAME", db.to_owned()),
        ("AWS_ENDPOINT_URL", s.aws_endpoint.clone()),
        ("RUST_LOG", "info".to_owned()),
        ("SERVICE_NAME", f.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if secrets {
        env.insert("DATABASE_SECRET_ARN".into(), ctx.movies_secret_arn.clone());
    } else {
        env.insert("DATABASE_USER".into(), role.0.into());
        env.insert("DATABASE_PASSWORD".into(), role.1.into());
    }
    match f {
        "billing-api" => {
            env.insert("AMQP_URL".into(), s.amqp_url.clone());
            env.insert("BILLING_QUEUE".into(), ctx.queue.clone());
        }
        "billing-consumer" => {
            env.insert("DLQ_URL".into(), ctx.dlq_url.clone());
        }
        _ => {}
    }
    env
}

pub(super) fn function_config(
    ctx: &Ctx,
    f: &str,
    secrets: bool,
    concurrency: usize,
) -> FunctionConfig {
    let mut cfg = FunctionConfig::new(f, ctx.functions_dir.join(f));
    cfg.env = function_env(ctx, f, secrets);
    cfg.max_concurrency = concurrency;
    cfg.timeout = Duration::from_secs(10);
    cfg.forward_logs = std::env::var_os("BENCH_FUNCTION_LOGS").is_some();
    cfg
}

pub(super) fn fixture(ctx: &Ctx, name: &str) -> Result<Value, String> {
    let p = ctx.repo.join("events").join(name);
    let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
}

/// An `aws:rmq` event of `n` valid orders, as the event source mapping renders it.
pub(super) fn rmq_event(queue: &str, n: usize) -> Result<(Bytes, Vec<Uuid>), String> {
    let order = billing::Order::from_fields(&json!(42), &json!(3), &json!("12.50"))
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(n);
    let messages: Vec<billing::rmq::RabbitMqMessage> = (0..n)
        .map(|_| {
            let id = Uuid::new_v4();
            ids.push(id);
            // Owned by the principal the in-process lookups use (`request_context`).
            let body =
                billing::OrderMessage::new(id, &order, Some("bench".into())).owned_by("sub-bench");
            let data = body.to_bytes();
            let props = lapin::BasicProperties::default()
                .with_message_id(id.to_string().as_str().into())
                .with_delivery_mode(2)
                .with_content_type("application/json".into());
            local_gateway::rmq_event::rmq_message(&props, false, &data)
        })
        .collect();
    let source = local_gateway::rmq_event::Source {
        broker_arn: "arn:aws:mq:us-east-1:123456789012:broker:bench:b-00000000-0000-0000-0000-000000000000",
        queue,
        virtual_host: "/",
    };
    let event = local_gateway::rmq_event::event_of(&source, messages);
    let bytes = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
    Ok((Bytes::from(bytes), ids))
}

pub(super) fn http_ok(inv: &Invocation) -> bool {
    inv.function_error.is_none()
        && serde_json::from_slice::<Value>(&inv.payload)
            .is_ok_and(|v| v["statusCode"].as_u64() == Some(200))
}
