//! `local-gateway [CONFIG]`: runs API Gateway, the functions and the event source mappings on
//! loopback from a config file (default `local/gateway.yaml`). Prints the URL when listening;
//! SIGINT or SIGTERM stop it and every function instance it started.

use std::path::PathBuf;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    settings::install_crypto_provider();
    let filter = EnvFilter::try_from_env("GATEWAY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,lapin=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "usage: local-gateway [CONFIG]   (default local/gateway.yaml; ${{VAR}} taken from the environment)"
        );
        return ExitCode::SUCCESS;
    }
    let path = PathBuf::from(
        args.first()
            .map(String::as_str)
            .unwrap_or("local/gateway.yaml"),
    );
    let cfg = match local_gateway::GatewayConfig::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            return ExitCode::from(2);
        }
    };
    // In watch mode the gateway builds the functions; otherwise they must exist.
    for f in cfg.functions.iter().filter(|_| cfg.watch.is_none()) {
        if !f.bootstrap.exists() {
            eprintln!(
                "local-gateway: {} does not exist: build the functions first (cargo build --release -p {})",
                f.bootstrap.display(),
                f.name
            );
            return ExitCode::from(2);
        }
    }
    let cfg_watch = cfg.watch.is_some();
    let running = match local_gateway::start(cfg).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("local-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mode = if cfg_watch {
        "functions from their debug builds, rebuilt on save"
    } else {
        "functions from their built bootstraps"
    };
    println!("local-gateway listening on {} ({mode})", running.url());

    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("local-gateway: cannot watch SIGTERM: {e}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping: function instances and event source mappings");
    running.shutdown().await;
    ExitCode::SUCCESS
}
