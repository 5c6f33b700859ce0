//! `make dev WATCH=1`: the functions rebuilt on save. The gateway watches the sources the
//! functions build from, runs one `cargo build --locked -p <function>...` (debug) after a save,
//! and runs the debug `bootstrap`s with the same [`SpawnedFunction`] as release mode: the
//! runtime APIs, clean environments, metrics and limits stay those of release mode, and a new
//! build takes over at the next invocation (in-flight ones finish on the old build).
//!
//! Not `cargo lambda watch`: its Invoke and runtime APIs answer any `Host` and any `Origin`
//! and cannot be configured otherwise, so a web page open in the developer's browser could
//! invoke a function with admin claims (a simple cross-origin POST needs no CORS) or take the
//! next event with its bearer token. Here nothing listens but the gateway and its guarded
//! runtime APIs (docs/security.md, "The local stack").
//!
//! An invocation that arrives while a build runs waits for it, bounded by the build budget;
//! after a failed build the previous one keeps serving (the compiler's messages are in the
//! gateway's log), and with no previous build the invocation fails with that reason.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use tokio::process::Command;
use tokio::sync::watch;

use crate::lambda::{
    FunctionConfig, Invocation, InvokeError, Invoker, LambdaService, SpawnedFunction,
};
use crate::metrics::Recorder;

/// Where and how the functions are built (`watch:` in the gateway config).
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The workspace to build and watch (its `Cargo.toml` directory).
    pub workspace: PathBuf,
    /// cargo's target directory (relative to the workspace, or absolute): the functions run
    /// from its `debug/`.
    pub target_dir: PathBuf,
    /// How long an invocation may wait for a build (cold or after a save), on top of the
    /// function's timeout.
    pub build_budget: Duration,
    /// The `cargo` to run (`cargo build --locked -p <function>...`); tests put a fake in its place.
    pub cargo: PathBuf,
}

/// What the functions are built from, relative to the workspace: a save under any of them
/// rebuilds (migrations and event fixtures are compiled in with `include_str!`).
const SOURCES: [&str; 5] = [
    "functions",
    "migrations",
    "events",
    "Cargo.toml",
    "Cargo.lock",
];
/// How often the sources are looked at, and how long they must stay unchanged before a build
/// (an editor or `git checkout` writes several files in a row).
const POLL: Duration = Duration::from_millis(400);
const SETTLE: Duration = Duration::from_millis(300);

/// Variables cargo, rustup and the linker need from the gateway's environment. Only these: any
/// other variable a build script watches would, when it differs from one run to the next
/// (under `cargo test` cargo sets many `CARGO_*`), rebuild dependencies.
fn toolchain_env() -> BTreeMap<String, String> {
    // With the proxy variables, a changed Cargo.lock can still fetch; with the compiler ones,
    // a crate that builds C finds the same compiler as the first build.
    const KEEP: [&str; 18] = [
        "PATH",
        "HOME",
        "USER",
        "TMPDIR",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "CC",
        "CXX",
    ];
    std::env::vars()
        .filter(|(k, _)| KEEP.contains(&k.as_str()))
        .collect()
}

/// The state of the builds every function waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    Running,
    Done { ok: bool },
}

/// A [`LambdaService`] whose functions run their debug builds, rebuilt on save.
pub fn service(
    functions: &[FunctionConfig],
    watch: &WatchConfig,
) -> std::io::Result<LambdaService> {
    let target = watch.workspace.join(&watch.target_dir);
    let mut env = toolchain_env();
    env.insert("CARGO_TARGET_DIR".into(), target.display().to_string());
    let debug = target.join("debug");
    let mut names: Vec<String> = functions.iter().map(|f| f.name.clone()).collect();
    names.sort();
    let (state, builds) = watch::channel(Build::Running);
    let builder = Arc::new(Builder {
        cargo_group: Mutex::new(None),
        task: Mutex::new(None),
    });
    let task = tokio::spawn(rebuild_on_save(
        names,
        watch.clone(),
        env,
        state,
        builder.clone(),
    ));
    *builder.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
    let recorder = Recorder::new();
    let invokers: Vec<(String, Arc<dyn Invoker>)> = functions
        .iter()
        .map(|cfg| {
            let mut cfg = cfg.clone();
            cfg.bootstrap = debug.join(&cfg.name);
            let invoker: Arc<dyn Invoker> = Arc::new(RebuiltFunction {
                budget: cfg.timeout + watch.build_budget,
                bootstrap: cfg.bootstrap.clone(),
                builds: builds.clone(),
                builder: builder.clone(),
                inner: SpawnedFunction::new(cfg.clone(), recorder.clone()),
            });
            (cfg.name, invoker)
        })
        .collect();
    Ok(LambdaService::with_invokers(recorder, invokers))
}

/// The rebuild loop's handle: stopping the gateway stops it and the build under way.
struct Builder {
    /// The process group of the `cargo build` running now.
    cargo_group: Mutex<Option<u32>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Builder {
    fn stop(&self) {
        if let Some(task) = self.task.lock().unwrap_or_else(|p| p.into_inner()).take() {
            task.abort();
        }
        // cargo and the rustc processes it runs share its process group.
        if let Some(pgid) = self
            .cargo_group
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pgid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Builds every function, then again after each save, for as long as the gateway runs.
async fn rebuild_on_save(
    names: Vec<String>,
    watch: WatchConfig,
    env: BTreeMap<String, String>,
    state: watch::Sender<Build>,
    builder: Arc<Builder>,
) {
    let mut seen = sources_version(watch.workspace.clone()).await;
    loop {
        state.send_replace(Build::Running);
        let started = std::time::Instant::now();
        let ok = build(&names, &watch, &env, &builder).await;
        if ok {
            tracing::info!(
                secs = started.elapsed().as_secs_f64(),
                "functions built; the next invocations run the new builds"
            );
        } else {
            tracing::warn!(
                "a build failed (the compiler's messages are above): the previous builds keep serving"
            );
        }
        state.send_replace(Build::Done { ok });
        loop {
            tokio::time::sleep(POLL).await;
            let now = sources_version(watch.workspace.clone()).await;
            if now == seen {
                continue;
            }
            tokio::time::sleep(SETTLE).await;
            seen = sources_version(watch.workspace.clone()).await;
            tracing::info!("a source changed: rebuilding the functions");
            break;
        }
    }
}

/// `cargo build --locked -p <name>...`: every function in one cargo run, and only the functions
/// (`-p`: with `--bin`, cargo would select the whole workspace and unify the functions'
/// dependencies' features with the gateway's and the tests'), as `make build` does. True when it
/// built.
async fn build(
    names: &[String],
    watch: &WatchConfig,
    env: &BTreeMap<String, String>,
    builder: &Builder,
) -> bool {
    let mut cmd = Command::new(&watch.cargo);
    // --locked, as every build of the repository: a save never rewrites Cargo.lock.
    cmd.args(["build", "--locked"])
        .args(names.iter().flat_map(|name| ["-p", name.as_str()]))
        .current_dir(&watch.workspace)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(functions = ?names, cargo = %watch.cargo.display(), error = %e, "cannot run cargo build");
            return false;
        }
    };
    *builder
        .cargo_group
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = child.id();
    let label = "build".to_owned();
    if let Some(out) = child.stdout.take() {
        tokio::spawn(crate::lambda::forward_lines(label.clone(), out, None));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(crate::lambda::forward_lines(label, err, None));
    }
    let status = child.wait().await;
    *builder
        .cargo_group
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = None;
    matches!(status, Ok(s) if s.success())
}

/// A digest of the paths, sizes and modification times under [`SOURCES`] (hidden entries,
/// `target` and symbolic links skipped): it changes when a file is saved, added or removed. The
/// walk runs off the async workers.
async fn sources_version(workspace: PathBuf) -> u64 {
    tokio::task::spawn_blocking(move || digest_sources(&workspace))
        .await
        .unwrap_or_default()
}

fn digest_sources(workspace: &Path) -> u64 {
    fn visit(path: &Path, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return;
        };
        if meta.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with('.') && name != "target" {
                    visit(&entry.path(), out);
                }
            }
        } else {
            out.push((path.to_path_buf(), meta.len(), meta.modified().ok()));
        }
    }
    let mut files = Vec::new();
    for source in SOURCES {
        visit(&workspace.join(source), &mut files);
    }
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    files.hash(&mut hasher);
    hasher.finish()
}

/// A function run from its debug build: waits for a build under way, then invokes.
struct RebuiltFunction {
    inner: SpawnedFunction,
    bootstrap: PathBuf,
    builds: watch::Receiver<Build>,
    builder: Arc<Builder>,
    budget: Duration,
}

impl RebuiltFunction {
    async fn call(&self, payload: Bytes) -> Result<Invocation, InvokeError> {
        let mut builds = self.builds.clone();
        let built = tokio::time::timeout(self.budget, async {
            builds
                .wait_for(|b| matches!(b, Build::Done { .. }))
                .await
                .map(|b| *b)
        })
        .await;
        match built {
            Err(_) => return Err(InvokeError::Timeout(self.budget)),
            Ok(Ok(Build::Done { ok: false })) if !self.bootstrap.exists() => {
                return Err(InvokeError::Spawn {
                    path: self.bootstrap.display().to_string(),
                    reason: "the build failed: the compiler's messages are in the gateway's log"
                        .into(),
                });
            }
            // Built, failed with a previous build to run, or the loop stopped (the gateway is
            // stopping): run what is there.
            Ok(_) => {}
        }
        Invoker::invoke(&self.inner, payload).await
    }
}

impl Invoker for RebuiltFunction {
    fn invoke(&self, payload: Bytes) -> BoxFuture<'_, Result<Invocation, InvokeError>> {
        Box::pin(self.call(payload))
    }

    fn instances(&self) -> usize {
        Invoker::instances(&self.inner)
    }

    fn running(&self) -> usize {
        Invoker::running(&self.inner)
    }

    fn stop_idle(&self) -> BoxFuture<'_, ()> {
        Invoker::stop_idle(&self.inner)
    }

    fn integration_timeout(&self) -> Duration {
        self.budget
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        self.builder.stop();
        Invoker::shutdown(&self.inner)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.stop();
    }
}
