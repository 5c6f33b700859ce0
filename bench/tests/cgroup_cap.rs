//! The `lambda-cap` wrapper really puts a process under a memory size's CPU share: a busy loop
//! started through it at 128 MB (7.2% of a core) is throttled by the kernel and gets about that
//! share of the CPU. Skipped, saying why, where this machine's cgroups are not writable.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bench::cgroup::{Cgroups, DEFAULT_PERIOD_US, cpu_share};

/// utime + stime of `pid` in seconds (`/proc/<pid>/stat` fields 14 and 15, 100 ticks a second).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after_comm
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

#[test]
fn a_busy_loop_gets_the_share_of_its_memory_size() {
    let cgroups = match Cgroups::detect(DEFAULT_PERIOD_US) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("skipped: cgroups are not writable here ({why})");
            return;
        }
    };
    let cap = cgroups.cap(128).unwrap();
    let dir = std::env::temp_dir().join(format!("cgroup-cap-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let busy = dir.join("busy");
    std::fs::write(&busy, "#!/bin/sh\nwhile :; do :; done\n").unwrap();
    std::fs::set_permissions(&busy, std::fs::Permissions::from_mode(0o755)).unwrap();

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lambda-cap"))
        .env("LAMBDA_CAP_EXEC", &busy)
        .env("LAMBDA_CAP_CGROUPS", cap.procs_list())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let cpu = cpu_seconds(child.id());
    let wall = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let throttled = cap.cpu_stat().throttled_periods;
    drop(cap);
    let _ = std::fs::remove_dir_all(&dir);

    // An uncapped loop would use (nearly) all of the 0.6 s; capped it gets 7.2% of it, give or
    // take a tick and one period's quota.
    let allowed = cpu_share(128) * wall + 0.02;
    assert!(
        cpu <= allowed,
        "the loop used {cpu:.3} s of CPU in {wall:.3} s (allowed {allowed:.3})"
    );
    assert!(cpu > 0.0, "the loop did not run (or /proc was unreadable)");
    assert!(throttled > 0, "the kernel never throttled the loop");
}
