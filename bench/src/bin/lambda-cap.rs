//! `lambda-cap`: starts a function's `bootstrap` inside the cgroups of a Lambda memory size.
//!
//! The local Lambda service execs this instead of the bootstrap (`make bench`'s power-tuning
//! phase sets it as the function's executable). It writes its own pid into every
//! `cgroup.procs` listed in `LAMBDA_CAP_CGROUPS` (`:`-separated), then replaces itself with
//! `LAMBDA_CAP_EXEC`, so the bootstrap starts with the CPU share and memory limit already in
//! force and the whole init runs under them, as on Lambda. Only this wrapper's own start (about
//! a millisecond of exec and dynamic loading, measured by the bench) runs before the cap.
//!
//! `LAMBDA_CAP_PREFIX` (optional, whitespace-separated) is put in front of the bootstrap, with
//! `{pid}` replaced by the process id: `perf record -o /tmp/p.{pid} --` profiles each start.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let Some(exec) = std::env::var_os("LAMBDA_CAP_EXEC") else {
        eprintln!("lambda-cap: LAMBDA_CAP_EXEC (the bootstrap to run) is not set");
        return ExitCode::from(2);
    };
    let pid = std::process::id().to_string();
    let groups = std::env::var("LAMBDA_CAP_CGROUPS").unwrap_or_default();
    for procs in groups.split(':').filter(|p| !p.is_empty()) {
        if let Err(e) = std::fs::write(procs, &pid) {
            eprintln!("lambda-cap: joining {procs}: {e}");
            return ExitCode::from(2);
        }
    }
    let prefix: Vec<String> = std::env::var("LAMBDA_CAP_PREFIX")
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.replace("{pid}", &pid))
        .collect();
    let mut cmd = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(&exec);
            c
        }
        None => Command::new(&exec),
    };
    for var in ["LAMBDA_CAP_EXEC", "LAMBDA_CAP_CGROUPS", "LAMBDA_CAP_PREFIX"] {
        cmd.env_remove(var);
    }
    // Only returns on failure.
    let err = cmd.exec();
    eprintln!("lambda-cap: exec {}: {err}", exec.to_string_lossy());
    ExitCode::from(127)
}
