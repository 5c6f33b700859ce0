//! The `cargo lambda watch` invoker against a stand-in watcher
//! (tests/fixtures/fake-cargo-lambda-watch.py): waits for a watcher that is starting or
//! rebuilding, never re-sends an invocation that reached it, gives the function its own
//! environment only, and stops the watcher with the gateway.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::time::Duration;

use bytes::Bytes;
use local_gateway::watch::{WatchConfig, service};
use local_gateway::{FunctionConfig, InvokeError, LambdaService};
use serde_json::{Value, json};

async fn call(
    lambda: &LambdaService,
    payload: Value,
) -> Result<(Value, Option<String>), InvokeError> {
    let inv = lambda
        .invoke("echo", Bytes::from(payload.to_string()))
        .await?;
    Ok((
        serde_json::from_slice(&inv.payload).unwrap(),
        inv.function_error,
    ))
}

#[tokio::test]
async fn the_watch_invoker_waits_for_builds_and_never_resends() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = FunctionConfig::new("echo", "/nonexistent/bootstrap");
    cfg.env.insert("DATABASE_NAME".into(), "movies".into());
    cfg.forward_logs = std::env::var_os("TEST_LOG").is_some();
    cfg.timeout = Duration::from_secs(2);
    let watch = WatchConfig {
        workspace: env!("CARGO_MANIFEST_DIR").into(),
        base_port: port,
        build_budget: Duration::from_secs(10),
        cargo: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fake-cargo-lambda-watch.py"
        )
        .into(),
    };
    let lambda = service(&[cfg], &watch).unwrap();
    assert_eq!(
        lambda.integration_timeout("echo"),
        Duration::from_secs(12),
        "API Gateway waits for the build too"
    );

    // The watcher is not listening yet: the invocation waits for it.
    let (first, error) = call(&lambda, json!({"mode": "ok"})).await.unwrap();
    assert_eq!(error, None);
    let env = &first["env"];
    assert_eq!(env["DATABASE_NAME"], "movies", "the function's env: {env}");
    assert!(env["AWS_REGION"].is_string());
    // cargo sets CARGO_PKG_NAME for this test: the gateway's environment must not leak in.
    assert!(env.get("CARGO_PKG_NAME").is_none(), "leaked: {env}");

    // A rebuild under way (503 from the watcher itself): sent again, answered by the new build.
    let (rebuilt, _) = call(&lambda, json!({"mode": "rebuild-once"}))
        .await
        .unwrap();
    assert_eq!(rebuilt["seen"]["rebuild-once"], 2);

    // A 500 may come after the function ran: never sent twice.
    let failed = call(&lambda, json!({"mode": "fail"})).await;
    assert!(matches!(failed, Err(InvokeError::Crashed(_))), "{failed:?}");
    let (after, _) = call(&lambda, json!({"mode": "ok"})).await.unwrap();
    assert_eq!(
        after["seen"]["fail"], 1,
        "the failed invocation was sent once"
    );

    // A function error is the function's answer, as from Lambda.
    let (_, error) = call(&lambda, json!({"mode": "function-error"}))
        .await
        .unwrap();
    assert_eq!(error.as_deref(), Some("Unhandled"));

    // Shutdown stops the watcher's process group.
    lambda.shutdown().await;
    let mut stopped = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped, "the watcher still listens after shutdown");
}
