//! The one test of the release builds `make dev` and the deployment run: the gateway spawns the
//! functions' release `bootstrap`s behind its Lambda runtime API. `make test` builds them before
//! `cargo test` (`make release-bins`); the other tests run the functions in-process.

use super::*;

/// What builds the bootstraps this test runs.
const BUILD: &str = "make release-bins (cargo build --release -p inventory -p billing-api -p billing-consumer -p setup -p local-gateway)";

/// `target/release` (or `E2E_BIN_DIR`), holding the three bootstraps and `local-gateway`
/// (fails, naming the build, when one is missing).
pub fn release_dir() -> PathBuf {
    let dir = std::env::var_os("E2E_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release"));
    for bin in [
        "inventory",
        "billing-api",
        "billing-consumer",
        "local-gateway",
    ] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: run `{BUILD}` first (make test does)",
            dir.join(bin).display()
        );
    }
    dir
}

#[tokio::test]
async fn the_release_bootstraps_serve_a_movie_and_an_order() {
    let s = Stack::start_with(Functions::Release).await;
    let user = s.token("user");
    let created = add_movie(&s, &user, json!({"title": "Alien"})).await;
    let (status, found) = s
        .call(
            "GET",
            &format!("/api/movies/{}", created["id"]),
            Some(&user),
            None,
        )
        .await;
    assert_eq!((status, &found), (200, &created));

    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let id = s.order(&user, order).await;
    let path = format!("/api/billing/orders/{id}");
    let stored = s.eventually_ok(&path, &user, "the order stored").await;
    assert_eq!(stored["message_id"], id);
    // Each function ran as its own process: an instance each, as the Lambda service reports.
    let Gateway::InProcess(gateway) = &s.gateway else {
        panic!("the gateway runs in-process here");
    };
    for f in ["inventory", "billing-api", "billing-consumer"] {
        assert!(
            gateway.lambda.instances(f).await >= 1,
            "{f} ran as a process"
        );
    }
}

/// No credential in any log at any level, through the real bootstraps and the Lambda runtime
/// path: each function runs at `RUST_LOG=trace` and `AWS_LAMBDA_LOG_LEVEL=TRACE` behind the
/// gateway's runtime API, its output captured by a wrapper, while a movie and an order go
/// through with a bearer token and an `X-Origin-Verify` header. lambda_runtime logs every raw
/// event at TRACE: without `telemetry`'s cap the token would be in these lines.
#[tokio::test]
async fn the_release_bootstraps_log_no_credential_at_trace() {
    let release = release_dir();
    let dir = std::env::temp_dir().join(unique("traced"));
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["inventory", "billing-api", "billing-consumer"] {
        let wrapper = dir.join(f);
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec '{}' >>'{}' 2>&1\n",
                release.join(f).display(),
                dir.join(format!("{f}.log")).display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let s = Stack::start_with(Functions::Traced(dir.clone())).await;
    let user = s.token("user");
    let origin_secret = format!("origin-{}", uuid::Uuid::new_v4().simple());
    let resp = s
        .http
        .post(format!("{}/api/movies", s.url))
        .bearer_auth(&user)
        .header("x-origin-verify", &origin_secret)
        .header("content-type", "application/json")
        .body(r#"{"title":"Traced"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let order = json!({"user_id": "3", "number_of_items": "5", "total_amount": "180"});
    let id = s.order(&user, order).await;
    s.eventually_ok(
        &format!("/api/billing/orders/{id}"),
        &user,
        "the order stored",
    )
    .await;
    drop(s);

    let logs: Vec<(String, String)> = ["inventory", "billing-api", "billing-consumer"]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(dir.join(format!("{f}.log"))).unwrap_or_default();
            ((*f).to_owned(), text)
        })
        .collect();
    let secrets = [
        ("the caller's access token", user.clone()),
        (
            "the token's signature",
            user.rsplit('.').next().unwrap().to_owned(),
        ),
        ("the X-Origin-Verify value", origin_secret),
        ("the database password", pg_password()),
    ];
    for (function, text) in &logs {
        assert!(
            text.contains("logging at TRACE"),
            "{function} logged at TRACE (else this test proves nothing): {}",
            text.lines().take(5).collect::<Vec<_>>().join("\n")
        );
        for (what, secret) in &secrets {
            assert!(!text.contains(secret.as_str()), "{function} logged {what}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
