//! The gateway's Lambda API driven with the real AWS CLI (the pinned one `scripts/tools.sh aws`
//! installs), as a developer drives it with `--endpoint-url`: the functions, and the event
//! source mapping against the real RabbitMQ (scripts/services.sh; `AMQP_URL` with the default
//! `esm.rs` has). Disabled, the mapping leaves a new message in the queue; enabled again, it
//! delivers it.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod support;

use lapin::BasicProperties;
use local_gateway::authorizer::AuthorizerConfig;
use local_gateway::esm::{EsmConfig, mapping_uuid};
use local_gateway::lambda::function_arn;
use local_gateway::{FunctionConfig, GatewayConfig, RunningGateway};
use serde_json::{Value, json};
use support::{TestQueue, amqp_url};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The AWS CLI's path, installed once per test binary (tests run in parallel).
fn aws_cli() -> &'static Path {
    static AWS: OnceLock<PathBuf> = OnceLock::new();
    AWS.get_or_init(|| {
        let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tools.sh");
        let out = std::process::Command::new(tools)
            .arg("aws")
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("run scripts/tools.sh aws");
        assert!(out.status.success(), "scripts/tools.sh aws failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// `aws lambda <args> --endpoint-url <gateway>`, with dummy credentials and no configuration
/// of this machine's (its own empty HOME): the JSON it prints, or what it says on stderr.
async fn lambda(gw: &RunningGateway, args: &[&str]) -> Result<Value, String> {
    // One for every run: the CLI only reads it, and it stays empty.
    let home = std::env::temp_dir().join("local-gateway-aws-cli-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = tokio::process::Command::new(aws_cli())
        .arg("lambda")
        .args(args)
        .args(["--endpoint-url", &gw.url(), "--output", "json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_DEFAULT_REGION", local_gateway::lambda::region())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .await
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("aws lambda {args:?} printed no JSON ({e})")))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `lambda` that must succeed.
async fn ok(gw: &RunningGateway, args: &[&str]) -> Value {
    lambda(gw, args)
        .await
        .unwrap_or_else(|e| panic!("aws lambda {args:?}: {e}"))
}

/// `lambda` that must fail with `exception`; returns the CLI's message.
async fn refused(gw: &RunningGateway, args: &[&str], exception: &str) -> String {
    match lambda(gw, args).await {
        Ok(v) => panic!("aws lambda {args:?} succeeded: {v}"),
        Err(e) => {
            assert!(e.contains(&format!("({exception})")), "{args:?}: {e}");
            e
        }
    }
}

/// Runs `read` until `done` holds, for at most `within`; the panic shows the last reading.
async fn eventually<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    within: Duration,
    mut read: impl FnMut() -> F,
    mut done: impl FnMut(&T) -> bool,
) -> T {
    let start = Instant::now();
    loop {
        let last = read().await;
        if done(&last) {
            return last;
        }
        if start.elapsed() > within {
            panic!("timed out waiting for {what}; got {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn function(name: &str) -> FunctionConfig {
    let mut f = FunctionConfig::new(name, fixture("echo-bootstrap.py"));
    f.forward_logs = std::env::var_os("TEST_LOG").is_some();
    f
}

async fn gateway(
    functions: Vec<FunctionConfig>,
    event_source_mappings: Vec<EsmConfig>,
) -> RunningGateway {
    let cfg = GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        openapi: fixture("openapi.yaml"),
        api_id: "test".into(),
        // No route of these tests needs a token.
        authorizer: AuthorizerConfig {
            issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_unused".into(),
            jwks_url: "http://127.0.0.1:9/unused".into(),
            audiences: vec!["unused".into()],
            leeway_secs: 30,
            jwks_min_refresh: Duration::from_secs(1),
            jwks_failure_ttl: Duration::from_secs(1),
            jwks_timeout: Duration::from_secs(1),
        },
        functions,
        event_source_mappings,
        watch: None,
        web: None,
    };
    local_gateway::start(cfg).await.unwrap()
}

#[tokio::test]
async fn the_aws_cli_lists_and_describes_the_functions() {
    aws_cli();
    let mut echo = function("echo");
    echo.memory_mb = 512;
    echo.timeout = Duration::from_secs(7);
    echo.max_concurrency = 3;
    echo.env
        .insert("DATABASE_PASSWORD".into(), "never-in-an-answer".into());
    let gw = gateway(vec![echo, function("worker")], vec![]).await;

    // One function a page: the CLI follows NextMarker and joins the pages.
    let listed = ok(&gw, &["list-functions", "--page-size", "1"]).await;
    assert!(
        !listed.to_string().contains("never-in-an-answer"),
        "{listed}"
    );
    let functions = listed["Functions"].as_array().unwrap();
    let names: Vec<_> = functions.iter().map(|f| &f["FunctionName"]).collect();
    assert_eq!(names, [&json!("echo"), &json!("worker")]);
    let echo = &functions[0];
    assert_eq!(echo["FunctionArn"], function_arn("echo"));
    assert_eq!(echo["Runtime"], "provided.al2023");
    assert_eq!(echo["Handler"], "bootstrap");
    assert_eq!(
        (&echo["MemorySize"], &echo["Timeout"]),
        (&json!(512), &json!(7))
    );
    assert_eq!(echo["State"], "Active");
    assert_eq!(echo["LastUpdateStatus"], "Successful");
    assert!(echo.get("Environment").is_none());

    let got = ok(&gw, &["get-function", "--function-name", "echo"]).await;
    assert_eq!(&got["Configuration"], echo);
    assert_eq!(
        got["Concurrency"],
        json!({"ReservedConcurrentExecutions": 3})
    );
    // The CLI percent-encodes the ARN's colons in the path.
    let by_arn = ok(
        &gw,
        &["get-function", "--function-name", &function_arn("echo")],
    )
    .await;
    assert_eq!(by_arn, got);
    let config = ok(
        &gw,
        &["get-function-configuration", "--function-name", "echo:live"],
    )
    .await;
    assert_eq!(&config, echo);

    let e = refused(
        &gw,
        &["get-function", "--function-name", "ghost"],
        "ResourceNotFoundException",
    )
    .await;
    assert!(e.contains(&function_arn("ghost")), "{e}");
    gw.shutdown().await;
}

#[tokio::test]
async fn the_aws_cli_pauses_and_resumes_the_event_source_mapping() {
    aws_cli();
    let rabbit = TestQueue::new("aws_cli_test").await;
    let queue = rabbit.name.clone();
    let dir = std::env::temp_dir().join(&queue);
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("events.jsonl");
    let fail_once = dir.join("fail-once");
    let publish = |body: &'static str| rabbit.publish(body.as_bytes(), BasicProperties::default());
    let waiting = || rabbit.waiting();
    // Every message body the function was given, in order.
    let delivered = || {
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        text.lines()
            .flat_map(|l| {
                let event: Value = serde_json::from_str(l).unwrap();
                let by_queue = event["rmqMessagesByQueue"].as_object().unwrap().clone();
                by_queue
                    .into_values()
                    .flat_map(|ms| ms.as_array().unwrap().clone())
                    .map(|m| {
                        use base64::Engine;
                        let data = m["data"].as_str().unwrap();
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(data)
                            .unwrap();
                        String::from_utf8(raw).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };

    let mut consumer = function("consumer");
    consumer.max_concurrency = 1;
    consumer
        .env
        .insert("ECHO_RECORD".into(), record.display().to_string());
    consumer.env.insert(
        "ECHO_FAIL_ONCE_FLAG".into(),
        fail_once.display().to_string(),
    );
    let mut esm = EsmConfig::new("consumer", &amqp_url(), &queue);
    esm.batching_window = Duration::from_millis(200);
    // Long enough for a few CLI calls to see the failed batch before its retry.
    esm.retry_backoff = Duration::from_secs(4);
    let gw = gateway(vec![function("echo"), consumer], vec![esm]).await;

    let listed = ok(
        &gw,
        &["list-event-source-mappings", "--function-name", "consumer"],
    )
    .await;
    let mappings = listed["EventSourceMappings"].as_array().unwrap();
    assert_eq!(mappings.len(), 1, "{listed}");
    let m = &mappings[0];
    let uuid = m["UUID"].as_str().unwrap().to_owned();
    assert_eq!(uuid, mapping_uuid("consumer", &queue).to_string());
    assert_eq!(m["FunctionArn"], function_arn("consumer"));
    assert_eq!(m["Queues"], json!([queue]));
    assert_eq!(
        (&m["BatchSize"], &m["State"]),
        (&json!(100), &json!("Enabled"))
    );
    assert_eq!(m["LastProcessingResult"], "No records processed");
    let broker = m["EventSourceArn"].as_str().unwrap().to_owned();
    assert!(broker.starts_with("arn:aws:mq:"), "{broker}");
    // The other filters: by the broker's ARN, by the function's ARN; another function has none.
    let by_source = ok(
        &gw,
        &["list-event-source-mappings", "--event-source-arn", &broker],
    )
    .await;
    assert_eq!(by_source["EventSourceMappings"][0]["UUID"], uuid.as_str());
    let by_arn = ok(
        &gw,
        &[
            "list-event-source-mappings",
            "--function-name",
            &function_arn("consumer"),
        ],
    )
    .await;
    assert_eq!(by_arn["EventSourceMappings"][0]["UUID"], uuid.as_str());
    let none = ok(
        &gw,
        &["list-event-source-mappings", "--function-name", "echo"],
    )
    .await;
    assert_eq!(none["EventSourceMappings"], json!([]));

    let get = || {
        let (gw, uuid) = (&gw, uuid.clone());
        async move { ok(gw, &["get-event-source-mapping", "--uuid", &uuid]).await }
    };
    publish("first").await;
    eventually(
        "the first batch",
        Duration::from_secs(20),
        get,
        |c: &Value| c["LastProcessingResult"] == "OK",
    )
    .await;
    assert_eq!(delivered(), ["first"]);

    // A batch the function fails: PROBLEM, then OK once the redelivery succeeds.
    std::fs::write(&fail_once, "").unwrap();
    publish("fails-once").await;
    let failed = eventually(
        "the failed batch",
        Duration::from_secs(20),
        get,
        |c: &Value| c["LastProcessingResult"] != "OK",
    )
    .await;
    let result = failed["LastProcessingResult"].as_str().unwrap();
    assert!(result.starts_with("PROBLEM: function error: "), "{result}");
    eventually(
        "the redelivery",
        Duration::from_secs(20),
        get,
        |c: &Value| c["LastProcessingResult"] == "OK",
    )
    .await;
    assert_eq!(delivered(), ["first", "fails-once", "fails-once"]);

    let before = ok(&gw, &["get-event-source-mapping", "--uuid", &uuid]).await;
    let paused = ok(
        &gw,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--no-enabled",
        ],
    )
    .await;
    assert!(
        paused["State"] == "Disabled" || paused["State"] == "Disabling",
        "{paused}"
    );
    assert_eq!(paused["StateTransitionReason"], "USER_INITIATED");
    assert!(paused["LastModified"].as_f64() >= before["LastModified"].as_f64());
    eventually("Disabled", Duration::from_secs(20), get, |c: &Value| {
        c["State"] == "Disabled"
    })
    .await;
    publish("while-disabled").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(waiting().await, 1, "the message waits in the queue");
    assert_eq!(delivered().len(), 3, "nothing delivered while disabled");

    // Settings change while disabled, and the mapping stays disabled.
    let resized = ok(
        &gw,
        &[
            "update-event-source-mapping",
            "--uuid",
            &uuid,
            "--batch-size",
            "5",
            "--maximum-batching-window-in-seconds",
            "1",
        ],
    )
    .await;
    assert_eq!(
        (
            &resized["BatchSize"],
            &resized["MaximumBatchingWindowInSeconds"],
            &resized["State"]
        ),
        (&json!(5), &json!(1), &json!("Disabled"))
    );
    let resumed = ok(
        &gw,
        &["update-event-source-mapping", "--uuid", &uuid, "--enabled"],
    )
    .await;
    assert_eq!(resumed["State"], "Enabled");
    eventually(
        "the waiting message",
        Duration::from_secs(20),
        || async { delivered() },
        |d| d.len() == 4,
    )
    .await;
    assert_eq!(delivered()[3], "while-disabled");
    eventually("an empty queue", Duration::from_secs(20), waiting, |n| {
        *n == 0
    })
    .await;

    // What the local mapping cannot do is refused, not ignored; an unknown UUID is a 404.
    let update = |extra: &'static [&'static str]| {
        let mut args = vec!["update-event-source-mapping", "--uuid", uuid.as_str()];
        args.extend_from_slice(extra);
        args
    };
    refused(
        &gw,
        &update(&["--batch-size", "5000"]),
        "InvalidParameterValueException",
    )
    .await;
    let e = refused(
        &gw,
        &update(&["--filter-criteria", r#"{"Filters":[{"Pattern":"{}"}]}"#]),
        "InvalidParameterValueException",
    )
    .await;
    assert!(e.contains("FilterCriteria is not supported"), "{e}");
    refused(
        &gw,
        &[
            "get-event-source-mapping",
            "--uuid",
            "00000000-0000-0000-0000-000000000000",
        ],
        "ResourceNotFoundException",
    )
    .await;
    assert_eq!(
        get().await["BatchSize"],
        5,
        "the refused updates changed nothing"
    );

    gw.shutdown().await;
    rabbit.delete().await;
    let _ = std::fs::remove_dir_all(&dir);
}
