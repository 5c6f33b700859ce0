//! The built function refuses to start with half of the admin configuration, naming what is
//! missing, instead of serving with a silently different admin rule.

#[test]
fn an_admin_scope_without_its_client_ids_stops_the_function_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_inventory"))
        .env_clear()
        .env("ADMIN_SCOPE", "crud-master/movies.admin")
        .output()
        .expect("run the inventory binary");
    assert!(!out.status.success(), "it started");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("ADMIN_CLIENT_IDS"), "{said}");
}
