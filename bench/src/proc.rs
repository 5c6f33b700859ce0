//! Function processes: finding the instances the Lambda emulator spawned and reading their
//! peak resident memory (VmHWM), which is what Lambda's "Max Memory Used" reports.

use std::path::Path;

/// Peak resident set size in KiB of `pid`, from `/proc/<pid>/status`.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Children of this process running `executable`.
pub fn children_running(executable: &Path) -> Vec<u32> {
    let me = std::process::id();
    let target = std::fs::canonicalize(executable).unwrap_or_else(|_| executable.to_path_buf());
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent(*pid) == Some(me))
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == target))
        .collect()
}

/// CPU time (user + system) `pid` has used so far, in clock ticks (USER_HZ, 100 per second).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

pub const TICKS_PER_SEC: f64 = 100.0;

/// CPU time of every live thread of `pid` in nanoseconds (`/proc/<pid>/task/*/schedstat`),
/// finer than the 10 ms ticks of `stat`; falls back to those when schedstat is missing or
/// reads zero.
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    let mut found = false;
    // (run time is the first field)
    for task in tasks.filter_map(|e| e.ok()) {
        if let Some(ns) = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        {
            total += ns;
            found = true;
        }
    }
    // Some kernels expose schedstat with a zero run time (scheduler statistics off).
    if found && total > 0 {
        Some(total)
    } else {
        cpu_ticks(pid).map(|t| t * (1e9 / TICKS_PER_SEC) as u64)
    }
}

/// Every process whose command name is `comm` (e.g. the PostgreSQL server and backends).
pub fn processes_named(comm: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// CPU (ns) used so far by: this process (the gateway and the load client), the function instances
/// it spawned, and PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSnapshot {
    pub gateway: u64,
    pub functions: u64,
    pub postgres: u64,
}

impl CpuSnapshot {
    pub fn take(functions: &[&Path]) -> Self {
        let sum = |pids: Vec<u32>| pids.into_iter().filter_map(cpu_ns).sum::<u64>();
        Self {
            gateway: cpu_ns(std::process::id()).unwrap_or_default(),
            functions: functions.iter().map(|f| sum(children_running(f))).sum(),
            postgres: sum(processes_named("postgres")),
        }
    }

    /// Microseconds of CPU per request between `self` (earlier) and `later`.
    pub fn per_request_us(&self, later: &Self, requests: usize) -> (f64, f64, f64) {
        let us = |a: u64, b: u64| b.saturating_sub(a) as f64 / 1e3 / requests.max(1) as f64;
        (
            us(self.gateway, later.gateway),
            us(self.functions, later.functions),
            us(self.postgres, later.postgres),
        )
    }
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_peak_rss() {
        let me = std::process::id();
        assert!(vm_hwm_kib(me).is_some_and(|k| k > 0));
        assert_eq!(parent(me), Some(std::os::unix::process::parent_id()));
        assert!(cpu_ticks(me).is_some());
        assert!(cpu_ns(me).is_some_and(|ns| ns > 0));
    }
}
