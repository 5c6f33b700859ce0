//! Watch mode against a stand-in `cargo build` (tests/fixtures/fake-cargo-build.sh): the first
//! invocation waits for the first build, a save is live at the next invocations, a failed build
//! leaves the previous one serving (and fails the invocation when there is none), and stopping
//! the gateway stops the rebuilds.

#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use local_gateway::watch::{WatchConfig, service};
use local_gateway::{FunctionConfig, InvokeError, LambdaService};
use serde_json::{Value, json};

/// The build the function that answered came from (`ECHO_BUILD`).
async fn build_of(lambda: &LambdaService) -> Result<String, InvokeError> {
    let inv = lambda
        .invoke("echo", Bytes::from(json!({"mode": "ok"}).to_string()))
        .await?;
    let answer: Value = serde_json::from_slice(&inv.payload).unwrap();
    Ok(answer["env"]["ECHO_BUILD"].as_str().unwrap().to_owned())
}

fn workspace(version: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("watch-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("functions")).unwrap();
    std::fs::write(dir.join("functions/version"), version).unwrap();
    dir
}

fn watching(dir: &Path) -> LambdaService {
    let mut cfg = FunctionConfig::new("echo", "/nonexistent/bootstrap");
    cfg.forward_logs = std::env::var_os("TEST_LOG").is_some();
    cfg.timeout = Duration::from_secs(2);
    let watch = WatchConfig {
        workspace: dir.to_path_buf(),
        target_dir: "target".into(),
        build_budget: Duration::from_secs(10),
        cargo: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fake-cargo-build.sh"
        )
        .into(),
    };
    service(&[cfg], &watch).unwrap()
}

fn builds(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("builds.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Waits (up to 10 s) until `check` holds.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_save_is_live_at_the_next_invocation_and_a_failed_build_keeps_the_last() {
    let dir = workspace("1");
    let lambda = watching(&dir);
    assert_eq!(
        lambda.integration_timeout("echo"),
        Duration::from_secs(12),
        "API Gateway waits for the build too"
    );

    // The first invocation waits for the first build (a second).
    let started = Instant::now();
    assert_eq!(build_of(&lambda).await.unwrap(), "1");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "it waited for the build"
    );

    // A save: the next invocations wait for the rebuild and run it.
    std::fs::write(dir.join("functions/version"), "2").unwrap();
    until("the rebuild to start", || {
        builds(&dir).iter().filter(|l| *l == "started").count() == 2
    })
    .await;
    assert_eq!(
        build_of(&lambda).await.unwrap(),
        "2",
        "it waited for the build under way"
    );

    // A build that fails: the previous build keeps serving.
    std::fs::write(dir.join("functions/broken"), "").unwrap();
    std::fs::write(dir.join("functions/version"), "3").unwrap();
    until("the failed build", || {
        builds(&dir).last().map(String::as_str) == Some("failed")
    })
    .await;
    assert_eq!(build_of(&lambda).await.unwrap(), "2");

    // Fixed: the next build serves.
    std::fs::remove_file(dir.join("functions/broken")).unwrap();
    until("the fixed build", || {
        builds(&dir).last().map(String::as_str) == Some("ok 3")
    })
    .await;
    assert_eq!(build_of(&lambda).await.unwrap(), "3");

    // Stopping the gateway stops the rebuilds.
    lambda.shutdown().await;
    let before = builds(&dir).len();
    std::fs::write(dir.join("functions/version"), "4").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(builds(&dir).len(), before, "a build ran after shutdown");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn with_no_build_to_run_the_invocation_names_the_failed_build() {
    let dir = workspace("1");
    std::fs::write(dir.join("functions/broken"), "").unwrap();
    let lambda = watching(&dir);
    let failed = build_of(&lambda).await;
    assert!(
        matches!(&failed, Err(InvokeError::Spawn { reason, .. }) if reason.contains("the build failed")),
        "{failed:?}"
    );
    lambda.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
