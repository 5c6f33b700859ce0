//! The Lambda service against a test-only runtime (tests/fixtures/echo-bootstrap.py).

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::time::Duration;

use bytes::Bytes;
use local_gateway::{FunctionConfig, InvokeError, LambdaService};
use serde_json::{Value, json};

fn echo(name: &str) -> FunctionConfig {
    let mut cfg = FunctionConfig::new(
        name,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/echo-bootstrap.py"
        ),
    );
    cfg.forward_logs = std::env::var_os("TEST_LOG").is_some();
    cfg.timeout = Duration::from_secs(3);
    cfg.env.insert("ECHO_SETTING".into(), "configured".into());
    cfg
}

async fn call(
    lambda: &LambdaService,
    name: &str,
    payload: Value,
) -> Result<(Value, local_gateway::Invocation), InvokeError> {
    let inv = lambda
        .invoke(name, Bytes::from(payload.to_string()))
        .await?;
    Ok((serde_json::from_slice(&inv.payload).unwrap(), inv))
}

#[tokio::test]
async fn cold_then_warm_with_lambda_headers_and_environment() {
    let lambda = LambdaService::new([echo("echo")]);
    let (first, inv1) = call(&lambda, "echo", json!({"n": 1})).await.unwrap();
    assert!(inv1.is_cold(), "first invocation is a cold start");
    assert!(inv1.init_duration.unwrap() <= inv1.total);
    assert_eq!(first["event"], json!({"n": 1}));
    let h = &first["headers"];
    assert_eq!(h["lambda-runtime-aws-request-id"], inv1.request_id);
    assert_eq!(
        h["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:us-east-1:123456789012:function:echo"
    );
    assert!(
        h["lambda-runtime-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    let deadline: u128 = h["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        deadline > now && deadline <= now + 3_000,
        "deadline is now + timeout"
    );
    let env = &first["env"];
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/echo");
    assert!(
        env["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("[$LATEST]")
    );
    assert_eq!(env["ECHO_SETTING"], "configured");
    assert!(
        env.get("HOME").is_none(),
        "the gateway's environment does not leak in"
    );

    let (second, inv2) = call(&lambda, "echo", json!({"n": 2})).await.unwrap();
    assert!(
        !inv2.is_cold(),
        "second invocation reuses the warm instance"
    );
    assert_eq!(second["pid"], first["pid"]);
    lambda.shutdown().await;
}

#[tokio::test]
async fn a_crashed_instance_is_replaced_and_errors_are_reported() {
    let lambda = LambdaService::new([echo("crashy")]);
    let (before, _) = call(&lambda, "crashy", json!({})).await.unwrap();
    let err = call(&lambda, "crashy", json!({"action": "crash"}))
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::Crashed(_)), "{err:?}");
    assert_eq!(err.error_type(), "Runtime.ExitError");
    let (after, inv) = call(&lambda, "crashy", json!({})).await.unwrap();
    assert!(inv.is_cold());
    assert_ne!(
        after["pid"], before["pid"],
        "a new instance replaced the crashed one"
    );

    let inv = lambda
        .invoke("crashy", Bytes::from_static(br#"{"action":"error"}"#))
        .await
        .unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    let body: Value = serde_json::from_slice(&inv.payload).unwrap();
    assert_eq!(body["errorType"], "TestError");
    let (_, inv) = call(&lambda, "crashy", json!({})).await.unwrap();
    assert!(!inv.is_cold(), "a reported error keeps the instance");
    lambda.shutdown().await;
}

#[tokio::test]
async fn timeouts_kill_the_instance() {
    let mut cfg = echo("slow");
    cfg.timeout = Duration::from_millis(700);
    let lambda = LambdaService::new([cfg]);
    call(&lambda, "slow", json!({})).await.unwrap();
    let started = std::time::Instant::now();
    let err = call(&lambda, "slow", json!({"action": "sleep", "seconds": 5}))
        .await
        .unwrap_err();
    assert!(matches!(err, InvokeError::Timeout(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        lambda.instances("slow").await,
        0,
        "the timed-out instance is gone"
    );
    let (_, inv) = call(&lambda, "slow", json!({})).await.unwrap();
    assert!(inv.is_cold());
    lambda.shutdown().await;
}

#[tokio::test]
async fn instances_scale_up_to_the_concurrency_limit() {
    let mut cfg = echo("wide");
    cfg.max_concurrency = 3;
    let lambda = LambdaService::new([cfg]);
    let calls = (0..6).map(|_| {
        let lambda = lambda.clone();
        async move { call(&lambda, "wide", json!({"action": "sleep", "seconds": 0.4})).await }
    });
    let results = futures::future::join_all(calls).await;
    let pids: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| r.unwrap().0["pid"].to_string())
        .collect();
    assert_eq!(pids.len(), 3, "three instances served six concurrent calls");
    assert_eq!(lambda.instances("wide").await, 3);
    lambda.shutdown().await;
    assert_eq!(lambda.instances("wide").await, 0);
}

#[tokio::test]
async fn init_errors_and_missing_functions() {
    let mut cfg = echo("broken");
    cfg.env.insert("ECHO_INIT_FAIL".into(), "1".into());
    let mut missing = echo("missing");
    missing.bootstrap = "/nonexistent/bootstrap".into();
    let lambda = LambdaService::new([cfg, missing]);
    let err = call(&lambda, "broken", json!({})).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::InitFailed(m) if m.contains("no config")),
        "{err:?}"
    );
    let err = call(&lambda, "missing", json!({})).await.unwrap_err();
    assert!(matches!(err, InvokeError::Spawn { .. }), "{err:?}");
    let err = call(&lambda, "nope", json!({})).await.unwrap_err();
    assert!(matches!(err, InvokeError::UnknownFunction(_)));
}

#[tokio::test]
async fn a_rebuilt_bootstrap_takes_over_and_stop_idle_forces_a_cold_start() {
    let dir = std::env::temp_dir().join(format!("lambda-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let bootstrap = dir.join("bootstrap");
    let source = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/echo-bootstrap.py"
    );
    std::fs::copy(source, &bootstrap).unwrap();
    let mut cfg = echo("reloading");
    cfg.bootstrap = bootstrap.clone();
    let lambda = LambdaService::new([cfg]);

    let (first, _) = call(&lambda, "reloading", json!({})).await.unwrap();
    let (_, warm) = call(&lambda, "reloading", json!({})).await.unwrap();
    assert!(!warm.is_cold());
    // "Rebuild": a new file in place, with a later modification time.
    std::thread::sleep(Duration::from_millis(20));
    let tmp = dir.join("bootstrap.new");
    std::fs::copy(source, &tmp).unwrap();
    std::fs::rename(&tmp, &bootstrap).unwrap();
    // A writer still holds the new file for a moment (as a process forked mid-rebuild does until
    // its exec): the kernel refuses to run it (ETXTBSY) and the gateway waits it out.
    let writer = std::fs::OpenOptions::new()
        .append(true)
        .open(&bootstrap)
        .unwrap();
    let held = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        drop(writer);
    });
    let (second, inv) = call(&lambda, "reloading", json!({})).await.unwrap();
    held.join().unwrap();
    assert!(inv.is_cold(), "the new build starts");
    assert_ne!(first["pid"], second["pid"]);

    lambda.stop_idle("reloading").await;
    assert_eq!(lambda.instances("reloading").await, 0);
    let (_, inv) = call(&lambda, "reloading", json!({})).await.unwrap();
    assert!(inv.is_cold());
    lambda.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// With `throttle_wait` zero, as on Lambda, an invocation over the reserved concurrency is
/// throttled at once, and the recorder counts it (`AWS/Lambda` `Throttles`, `Invocations`,
/// `ConcurrentExecutions` up to the limit).
#[tokio::test]
async fn over_the_reserved_concurrency_lambda_throttles() {
    use local_gateway::metrics::{MetricId, Stat, now_ms};
    let mut cfg = echo("narrow");
    cfg.max_concurrency = 2;
    cfg.throttle_wait = Duration::ZERO;
    let lambda = LambdaService::new([cfg]);
    let calls = (0..5).map(|_| {
        let lambda = lambda.clone();
        async move {
            call(
                &lambda,
                "narrow",
                json!({"action": "sleep", "seconds": 0.5}),
            )
            .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(InvokeError::Throttled(_))))
        .count();
    assert_eq!(throttled, 3, "{results:?}");
    let rec = lambda.recorder();
    let now = now_ms() / 1000;
    let sum = |name: &str, stat: Stat| -> f64 {
        rec.statistic(
            &MetricId::new("AWS/Lambda", name, &[("FunctionName", "narrow")]),
            stat,
            now - 60,
            now + 1,
        )
        .unwrap_or(-1.0)
    };
    assert_eq!(sum("Throttles", Stat::Sum), 3.0);
    assert_eq!(sum("Invocations", Stat::Sum), 2.0);
    assert_eq!(sum("Errors", Stat::Sum), 0.0);
    assert_eq!(sum("ConcurrentExecutions", Stat::Maximum), 2.0);
    lambda.shutdown().await;
}

/// The in-process invoker: an axum router behind `lambda_http`'s own event and response
/// conversion (what `lambda_http::run` does in the deployed function), and a plain handler
/// whose error is the function error Lambda reports.
#[tokio::test]
async fn in_process_functions_answer_as_their_runtime_would() {
    use std::sync::Arc;

    use local_gateway::apigw::{EventContext, IncomingRequest, build_event, map_response};
    use local_gateway::{InProcess, Invoker, metrics::Recorder};

    let router = axum::Router::new().route(
        "/echo/{word}",
        axum::routing::post(
            |axum::extract::Path(word): axum::extract::Path<String>, body: String| async move {
                axum::Json(json!({"word": word, "body": body}))
            },
        ),
    );
    let fails = lambda_runtime::service_fn(|e: lambda_runtime::LambdaEvent<Value>| async move {
        if e.payload["fail"] == true {
            Err::<Value, _>(lambda_runtime::Error::from("asked to fail"))
        } else {
            Ok(json!({"ok": e.payload}))
        }
    });
    let lambda = LambdaService::with_invokers(
        Recorder::new(),
        [
            (
                "http".to_owned(),
                Arc::new(InProcess::http(router)) as Arc<dyn Invoker>,
            ),
            (
                "plain".to_owned(),
                Arc::new(InProcess::new(fails)) as Arc<dyn Invoker>,
            ),
        ],
    );

    let mut headers = http::HeaderMap::new();
    headers.insert("content-type", "text/plain".parse().unwrap());
    let req = IncomingRequest {
        method: "POST".into(),
        raw_path: "/echo/hello".into(),
        raw_query: String::new(),
        headers,
        body: Bytes::from_static(b"world"),
        source_ip: "127.0.0.1".into(),
        protocol: "HTTP/1.1".into(),
    };
    let ctx = EventContext {
        route_key: "POST /echo/{word}".into(),
        path_parameters: [("word".to_owned(), "hello".to_owned())].into(),
        authorizer: None,
        route_has_scopes: false,
        request_id: "r1".into(),
        time_epoch_ms: 0,
        api_id: "local".into(),
    };
    let event = build_event(&req, &ctx);
    let inv = lambda
        .invoke("http", Bytes::from(event.to_string()))
        .await
        .unwrap();
    assert_eq!(inv.function_error, None, "{:?}", inv.payload);
    assert!(!inv.is_cold(), "no process, no cold start");
    let resp = map_response(&inv.payload).unwrap();
    assert_eq!(resp.status(), 200);
    let body = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body, json!({"word": "hello", "body": "world"}));

    let (ok, _) = call(&lambda, "plain", json!({"fail": false}))
        .await
        .unwrap();
    assert_eq!(ok, json!({"ok": {"fail": false}}));
    let (error, inv) = call(&lambda, "plain", json!({"fail": true})).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(error["errorMessage"], "asked to fail");
    let (error, inv) = call(&lambda, "http", json!("not an event")).await.unwrap();
    assert_eq!(inv.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(error["errorType"], "Runtime.UnmarshalError");
}
