//! `make dev WATCH=1`: the gateway building the functions in debug and rebuilding them on save.

use super::*;

/// A copy of the workspace sources (no target/, .local/, .git/) at a fixed place, so the
/// watchers' builds there are incremental from one run to the next. tar keeps modification
/// times, so only what a test changed (and touches) rebuilds.
fn scratch_workspace() -> PathBuf {
    let scratch = root().join("target/watch-test/src");
    std::fs::create_dir_all(&scratch).unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "tar -C \"$1\" --exclude=./target --exclude=./.local --exclude=./.git -cf - . \
             | tar -C \"$2\" -xf -",
        )
        .args(["sh", root().to_str().unwrap(), scratch.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "copying the workspace to {scratch:?}");
    scratch
}

/// The watchers' target directory: seeded once with hard links to target/debug's compiled
/// dependencies (cargo writes new files, never into old ones), so only the workspace crates
/// build, not the whole dependency tree. Never target/debug itself: `cargo test` holds it.
fn watch_target_dir() -> PathBuf {
    let dir = root().join("target/watch-test/target");
    let debug = dir.join("debug");
    if !debug.exists() {
        std::fs::create_dir_all(&debug).unwrap();
        for sub in ["deps", "build", ".fingerprint"] {
            let from = root().join("target/debug").join(sub);
            if from.exists() {
                let _ = std::process::Command::new("cp")
                    .args(["-al"])
                    .arg(&from)
                    .arg(&debug)
                    .status();
            }
        }
    }
    dir
}

/// `make dev WATCH=1`: the same gateway (routes, JWT authorizer, event source mapping) running
/// debug builds. A saved change in a function's source is live at the next requests, the
/// billing mapping still delivers, and every listener is on loopback and closed to web pages.
#[tokio::test]
async fn watch_mode_rebuilds_a_saved_change_and_billing_still_delivers() {
    let scratch = scratch_workspace();
    let routes = scratch.join("functions/inventory/src/routes.rs");
    let before = "movie {} does not exist";
    let after = "movie {} is in no catalogue (rebuilt)";
    let source = std::fs::read_to_string(&routes).unwrap();
    assert!(source.contains(before), "the 404 text this test changes");
    // The previous run's edit was undone by the copy with an older time: touch, so cargo
    // rebuilds from what is on disk now.
    std::fs::write(&routes, &source).unwrap();

    let s = Stack::start_with(Functions::Watch(vec![
        ("FUNCTIONS_WATCH", "true".into()),
        ("WATCH_WORKSPACE", scratch.display().to_string()),
        ("CARGO_TARGET_DIR", watch_target_dir().display().to_string()),
        // The first run on a machine may build every dependency in debug (2 cores: minutes).
        ("WATCH_BUILD_BUDGET_SECS", "900".into()),
    ]))
    .await;
    let user = s.token("user");
    let missing = "/api/movies/987654321";

    // The first requests wait for the first builds (bounded by the build budget).
    let started = std::time::Instant::now();
    let (status, health) = s.call("GET", "/health", None, None).await;
    assert_eq!(status, 200, "{health}");
    let (status, problem) = s.call("GET", missing, Some(&user), None).await;
    assert_eq!(status, 404, "{problem}");
    assert_eq!(problem["detail"], "movie 987654321 does not exist");
    let (status, _) = s.call("GET", missing, None, None).await;
    assert_eq!(status, 401, "the JWT authorizer still stands in front");
    eprintln!("watch mode: first answers after {:?}", started.elapsed());

    // Save a one-line change: the next requests see it, through the gateway, with the JWT.
    std::fs::write(&routes, source.replace(before, after)).unwrap();
    let saved = std::time::Instant::now();
    eventually(Duration::from_secs(300), "the rebuilt inventory", || {
        let s = &s;
        let user = &user;
        async move {
            let (status, problem) = s.call("GET", missing, Some(user), None).await;
            // Requests during the rebuild wait for it or get the old build: never an error.
            assert_eq!(status, 404, "during the rebuild: {problem}");
            (problem["detail"] == "movie 987654321 is in no catalogue (rebuilt)").then_some(())
        }
    })
    .await;
    eprintln!(
        "watch mode: the change was live {:?} after the save",
        saved.elapsed()
    );

    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let id = s.order(&user, order).await;
    let path = format!("/api/billing/orders/{id}");
    eventually(Duration::from_secs(120), "the order consumed", || async {
        let (status, _) = s.call("GET", &path, Some(&user), None).await;
        (status == 200).then_some(())
    })
    .await;

    // As in release mode: loopback only, and a rebinding Host or a foreign Origin refused.
    let session = std::process::Command::new("ps")
        .args(["-o", "sid=", "-p", &std::process::id().to_string()])
        .output()
        .unwrap();
    let session = String::from_utf8(session.stdout).unwrap();
    let checked = std::process::Command::new(root().join("scripts/listeners-check.sh"))
        .args([&s.port.to_string(), session.trim()])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(
        checked.success(),
        "scripts/listeners-check.sh in watch mode"
    );
}
