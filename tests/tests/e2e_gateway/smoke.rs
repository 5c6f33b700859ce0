//! The one test of the release builds `make dev` and the deployment run: the gateway spawns the
//! functions' release `bootstrap`s behind its Lambda runtime API. `make test` builds them before
//! `cargo test` (`make release-bins`); the other tests run the functions in-process.

use super::*;

/// What builds the bootstraps this test runs.
const BUILD: &str = "make release-bins (cargo build --release -p inventory -p billing-api -p billing-consumer -p local-gateway)";

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
