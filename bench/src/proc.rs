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
    }
}
