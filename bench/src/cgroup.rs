//! Lambda's CPU share and memory limit for a memory size, through the kernel's cgroup controls.
//!
//! Lambda allocates CPU in proportion to the configured memory: at 1,769 MB a function has the
//! equivalent of one vCPU (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html>),
//! so 256 MB gets 256/1,769 = 14.5% of a core and 128 MB 7.2%. The share is enforced as a CFS
//! bandwidth quota per period; measurements on Lambda show a 20 ms period (the process runs at
//! full speed for its quota, then waits for the next period: pwrdrvr/lambda-throttling), so a
//! 256 MB function gets 2.9 ms of CPU in every 20 ms.
//!
//! Both cgroup versions are supported: v1 (`cpu.cfs_period_us`/`cpu.cfs_quota_us` in the `cpu`
//! hierarchy, `memory.limit_in_bytes` in the `memory` one) and v2 (`cpu.max`, `memory.max` in
//! the unified hierarchy, with the controllers enabled in our cgroup's `cgroup.subtree_control`).
//! The groups are created under the cgroup the bench runs in (named after its pid, removed on
//! drop). Where neither is writable (no root, no delegation, a read-only `/sys/fs/cgroup`),
//! [`Cgroups::detect`] says why and the bench measures on the full core only.
//!
//! A process joins by writing its pid to each group's `cgroup.procs` before it execs the
//! function: that is what the `lambda-cap` wrapper does (`src/bin/lambda-cap.rs`), so the
//! function's whole init runs under the cap, as on Lambda.

use std::path::{Path, PathBuf};

/// Memory at which a function has one full vCPU.
pub const FULL_VCPU_MB: u32 = 1769;
/// The CFS period Lambda's throttling shows.
pub const DEFAULT_PERIOD_US: u32 = 20_000;
/// The kernel refuses quotas under 1 ms.
const MIN_QUOTA_US: u32 = 1000;

/// The fraction of one core Lambda gives `memory_mb` (capped at one core: the functions here
/// are single-threaded, and the sizes measured are below 1,769 MB).
pub fn cpu_share(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / f64::from(FULL_VCPU_MB)).min(1.0)
}

/// The CFS quota for `memory_mb` in a `period_us` period.
pub fn quota_us(memory_mb: u32, period_us: u32) -> u32 {
    ((cpu_share(memory_mb) * f64::from(period_us)).round() as u32).max(MIN_QUOTA_US)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Layout {
    /// Directories (ours) in the `cpu`, `cpuacct` (when mounted apart) and `memory`
    /// hierarchies.
    V1 {
        cpu: PathBuf,
        cpuacct: Option<PathBuf>,
        memory: Option<PathBuf>,
    },
    /// Our directory in the unified hierarchy.
    V2 { dir: PathBuf },
}

/// Where the bench may create capped groups.
#[derive(Debug)]
pub struct Cgroups {
    layout: Layout,
    period_us: u32,
    tag: String,
}

/// One memory size's groups: a process that writes its pid into every `procs` file runs with
/// that size's CPU share and memory limit.
#[derive(Debug)]
pub struct Cap {
    /// `None`: no limits (the full core).
    pub memory_mb: Option<u32>,
    /// The `cgroup.procs` files to join.
    pub procs: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Cap {
    /// `cgroup.procs` paths joined with `:`, as the wrapper reads them.
    pub fn procs_list(&self) -> String {
        self.procs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// CPU time the group's processes used so far (`cpuacct.usage` / `cpu.stat`), and how
    /// often and how long they were throttled.
    pub fn cpu_stat(&self) -> CpuStat {
        let mut stat = CpuStat::default();
        for dir in &self.dirs {
            if let Some(ns) = std::fs::read_to_string(dir.join("cpuacct.usage"))
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
            {
                stat.usage_us = ns / 1000;
            }
            if let Ok(text) = std::fs::read_to_string(dir.join("cpu.stat")) {
                for line in text.lines() {
                    let mut it = line.split_whitespace();
                    let (Some(k), Some(v)) = (it.next(), it.next().and_then(|v| v.parse().ok()))
                    else {
                        continue;
                    };
                    match k {
                        "nr_throttled" => stat.throttled_periods = v,
                        "throttled_time" => stat.throttled_us = v / 1000, // v1: ns
                        "throttled_usec" => stat.throttled_us = v,        // v2
                        "usage_usec" => stat.usage_us = v,                // v2
                        _ => {}
                    }
                }
            }
        }
        stat
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CpuStat {
    pub throttled_periods: u64,
    pub throttled_us: u64,
    pub usage_us: u64,
}

impl Drop for Cap {
    fn drop(&mut self) {
        for dir in &self.dirs {
            remove_group(dir);
        }
    }
}

/// `rmdir` of a group whose processes have exited; the kernel may take a moment to release
/// them after they are reaped.
fn remove_group(dir: &Path) {
    for _ in 0..50 {
        if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl Cgroups {
    /// The cgroup hierarchy of this machine, if the bench may create groups in it; otherwise
    /// why not (shown in the report).
    pub fn detect(period_us: u32) -> Result<Self, String> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup: {e}"))?;
        let layout = layout(&mountinfo, &own)?;
        let tag = format!("crud-bench-{}", std::process::id());
        let cgroups = Self {
            layout,
            period_us,
            tag,
        };
        cgroups.clean_stale();
        // Proves we may write, and enables the controllers on v2.
        cgroups.prepare()?;
        drop(cgroups.cap(256)?);
        Ok(cgroups)
    }

    /// `cgroup v1 (cpu, memory)` or `cgroup v2`, and where.
    pub fn describe(&self) -> String {
        match &self.layout {
            Layout::V1 { cpu, memory, .. } => format!(
                "cgroup v1: `cpu.cfs_quota_us` in {}, {}",
                cpu.display(),
                memory
                    .as_ref()
                    .map(|m| format!("`memory.limit_in_bytes` in {}", m.display()))
                    .unwrap_or_else(|| "no memory hierarchy (CPU only)".into())
            ),
            Layout::V2 { dir } => {
                format!("cgroup v2: `cpu.max`, `memory.max` in {}", dir.display())
            }
        }
    }

    pub fn period_us(&self) -> u32 {
        self.period_us
    }

    fn prepare(&self) -> Result<(), String> {
        if let Layout::V2 { dir } = &self.layout {
            let control = dir.join("cgroup.subtree_control");
            let enabled = std::fs::read_to_string(&control).unwrap_or_default();
            for c in ["cpu", "memory"] {
                if !enabled.split_whitespace().any(|e| e == c) {
                    std::fs::write(&control, format!("+{c}")).map_err(|e| {
                        format!(
                            "enabling the {c} controller in {}: {e} (cgroup v2 allows it only \
                             in a cgroup without processes of its own, or with delegation)",
                            control.display()
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Creates (or resets) the groups of `memory_mb`.
    pub fn cap(&self, memory_mb: u32) -> Result<Cap, String> {
        self.group(Some(memory_mb))
    }

    /// A group without limits: the full-core figures, measured the same way (through the
    /// wrapper, with the group's CPU time).
    pub fn unlimited(&self) -> Result<Cap, String> {
        self.group(None)
    }

    fn group(&self, memory_mb: Option<u32>) -> Result<Cap, String> {
        let (quota, limit, name) = match memory_mb {
            Some(mb) => (
                quota_us(mb, self.period_us).to_string(),
                (u64::from(mb) * 1024 * 1024).to_string(),
                format!("{}-{mb}mb", self.tag),
            ),
            None => (
                "-1".to_owned(),
                "-1".to_owned(),
                format!("{}-full", self.tag),
            ),
        };
        let mut cap = Cap {
            memory_mb,
            procs: Vec::new(),
            dirs: Vec::new(),
        };
        let mut group = |parent: &Path, settings: &[(&str, String)]| -> Result<(), String> {
            let dir = parent.join(&name);
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("creating {}: {e}", dir.display())),
            }
            cap.dirs.push(dir.clone());
            for (file, value) in settings {
                std::fs::write(dir.join(file), value)
                    .map_err(|e| format!("writing {value:?} to {}/{file}: {e}", dir.display()))?;
            }
            cap.procs.push(dir.join("cgroup.procs"));
            Ok(())
        };
        match &self.layout {
            Layout::V1 {
                cpu,
                cpuacct,
                memory,
            } => {
                // The period first: the kernel checks the quota against it.
                group(
                    cpu,
                    &[
                        ("cpu.cfs_period_us", self.period_us.to_string()),
                        ("cpu.cfs_quota_us", quota.clone()),
                    ],
                )?;
                if let Some(memory) = memory {
                    group(memory, &[("memory.limit_in_bytes", limit)])?;
                }
                // Only to read the CPU time used (`cpu.stat` of v1 has no usage).
                if let Some(cpuacct) = cpuacct {
                    group(cpuacct, &[])?;
                }
            }
            Layout::V2 { dir } => group(
                dir,
                &[
                    (
                        "cpu.max",
                        format!("{} {}", quota.replace("-1", "max"), self.period_us),
                    ),
                    ("memory.max", limit.replace("-1", "max")),
                ],
            )?,
        }
        Ok(cap)
    }

    /// Removes empty groups a killed earlier run left behind.
    fn clean_stale(&self) {
        let parents: Vec<&PathBuf> = match &self.layout {
            Layout::V1 {
                cpu,
                cpuacct,
                memory,
            } => std::iter::once(cpu).chain(cpuacct).chain(memory).collect(),
            Layout::V2 { dir } => vec![dir],
        };
        for parent in parents {
            let Ok(entries) = std::fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = name
                    .strip_prefix("crud-bench-")
                    .and_then(|r| r.split('-').next())
                else {
                    continue;
                };
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
    }
}

/// Our directories in the mounted hierarchies, from `/proc/self/mountinfo` and
/// `/proc/self/cgroup`. v1 wins when its `cpu` controller is mounted (a hybrid system's unified
/// hierarchy then has no controllers).
fn layout(mountinfo: &str, own: &str) -> Result<Layout, String> {
    // (mount root, mount point, fstype, super options)
    let mounts: Vec<(&str, &str, &str, &str)> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split_whitespace().collect();
            let r: Vec<&str> = right.split_whitespace().collect();
            Some((*f.get(3)?, *f.get(4)?, *r.first()?, *r.get(2)?))
        })
        .filter(|m| m.2 == "cgroup" || m.2 == "cgroup2")
        .collect();
    // hierarchy controllers ("cpu,cpuacct", "" for v2) -> our path in it
    let own_path = |controller: Option<&str>| {
        own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
            match controller {
                None => list.is_empty().then_some(path),
                Some(c) => list.split(',').any(|x| x == c).then_some(path),
            }
        })
    };
    let dir_in = |root: &str, point: &str, path: &str| {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .trim_start_matches('/');
        PathBuf::from(point).join(rel)
    };
    let v1 = |controller: &str| {
        mounts.iter().find_map(|(root, point, fs, opts)| {
            (*fs == "cgroup" && opts.split(',').any(|o| o == controller))
                .then(|| own_path(Some(controller)).map(|p| dir_in(root, point, p)))
                .flatten()
        })
    };
    if let Some(cpu) = v1("cpu") {
        let cpuacct = v1("cpuacct").filter(|a| *a != cpu);
        return Ok(Layout::V1 {
            cpu,
            cpuacct,
            memory: v1("memory"),
        });
    }
    if let Some(dir) = mounts.iter().find_map(|(root, point, fs, _)| {
        (*fs == "cgroup2")
            .then(|| own_path(None).map(|p| dir_in(root, point, p)))
            .flatten()
    }) {
        let controllers =
            std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "cpu") {
            return Ok(Layout::V2 { dir });
        }
        return Err(format!(
            "cgroup v2 at {} has no cpu controller for us (cgroup.controllers: {:?})",
            dir.display(),
            controllers.trim()
        ));
    }
    Err("no cgroup hierarchy with a cpu controller is mounted".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_quotas_follow_lambda() {
        assert!((cpu_share(1769) - 1.0).abs() < 1e-9);
        assert!((cpu_share(256) - 0.1447).abs() < 1e-3);
        assert_eq!(quota_us(256, 20_000), 2894);
        assert_eq!(quota_us(128, 20_000), 1447);
        assert_eq!(quota_us(1024, 20_000), 11577);
        assert_eq!(quota_us(128, 10_000), 1000, "the kernel's minimum");
        assert_eq!(quota_us(4096, 20_000), 20_000, "one core at most");
    }

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn finds_our_groups_in_v1() {
        let own = "4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n";
        assert_eq!(
            layout(HYBRID, own).unwrap(),
            Layout::V1 {
                cpu: "/sys/fs/cgroup/cpu".into(),
                cpuacct: Some("/sys/fs/cgroup/cpuacct".into()),
                memory: Some("/sys/fs/cgroup/memory/process_api/abc".into()),
            }
        );
        let combined =
            "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        assert_eq!(
            layout(combined, "3:cpu,cpuacct:/user.slice\n").unwrap(),
            Layout::V1 {
                cpu: "/sys/fs/cgroup/cpu,cpuacct/user.slice".into(),
                cpuacct: None,
                memory: None,
            }
        );
    }

    #[test]
    fn no_hierarchy_is_an_explained_error() {
        let err = layout("22 1 0:5 / /proc rw - proc proc rw\n", "0::/\n").unwrap_err();
        assert!(err.contains("no cgroup hierarchy"), "{err}");
    }
}
