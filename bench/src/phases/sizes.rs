//! Sizes: each function's `bootstrap` and its deployment zip.

use std::path::{Path, PathBuf};

use bench::report::{Report, mb};

use crate::{Ctx, FUNCTIONS};

/// 3 MB, decimal, as the issue writes it.
const ZIP_TARGET: u64 = 3_000_000;

pub(super) fn sizes(ctx: &Ctx, report: &mut Report) -> Result<(), String> {
    let lambda_dir = std::env::var("BENCH_LAMBDA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| ctx.repo.join("target/lambda"));
    report.heading(
        "Size",
        "The deployment package Lambda downloads on a cold start. From `make build` \
         (`cargo lambda build --release --target aarch64-unknown-linux-musl --output-format zip`) when present; otherwise the \
         host release binary zipped the same way (deflate, one `bootstrap` entry), labelled with \
         its architecture.",
    );
    report.table(&[
        "function",
        "build",
        "bootstrap MB",
        "zip MB",
        "target",
        "result",
    ]);
    for f in FUNCTIONS {
        let arm_zip = lambda_dir.join(f).join("bootstrap.zip");
        let (build, bootstrap, zip) = if arm_zip.exists() {
            let zip = file_len(&arm_zip)?;
            let bootstrap = match file_len(&lambda_dir.join(f).join("bootstrap")) {
                Ok(b) => b,
                Err(_) => unzipped_size(&arm_zip)?,
            };
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            let stale = match (modified(&arm_zip), modified(&ctx.functions_dir.join(f))) {
                (Some(zip_time), Some(host_time)) => zip_time < host_time,
                _ => false,
            };
            let label = if stale {
                "arm64 (cargo lambda), older than the host build: rerun `make build`"
            } else {
                "arm64 (cargo lambda)"
            };
            (label.to_owned(), bootstrap, zip)
        } else {
            let bin = ctx.functions_dir.join(f);
            let dir = std::env::temp_dir().join(format!("bench-zip-{f}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            std::fs::copy(&bin, dir.join("bootstrap")).map_err(|e| e.to_string())?;
            let status = std::process::Command::new("zip")
                .args(["-q", "-X", "-6", "bootstrap.zip", "bootstrap"])
                .current_dir(&dir)
                .status()
                .map_err(|e| format!("zip: {e} (install zip)"))?;
            if !status.success() {
                return Err(format!("zip failed for {f}"));
            }
            let zip = file_len(&dir.join("bootstrap.zip"))?;
            let _ = std::fs::remove_dir_all(&dir);
            (
                format!("{} host release", std::env::consts::ARCH),
                file_len(&bin)?,
                zip,
            )
        };
        let verdict = report.check(
            &format!("zip {f}"),
            &format!("{} MB", mb(zip)),
            "<= 3 MB",
            zip <= ZIP_TARGET,
        );
        report.row(&[
            f.to_owned(),
            build,
            mb(bootstrap),
            mb(zip),
            "zip <= 3 MB".into(),
            verdict,
        ]);
    }
    Ok(())
}

pub(super) fn file_len(p: &Path) -> Result<u64, String> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Uncompressed size of a zip's entries (`unzip -l`'s total line).
pub(super) fn unzipped_size(zip: &Path) -> Result<u64, String> {
    let out = std::process::Command::new("unzip")
        .arg("-l")
        .arg(zip)
        .output()
        .map_err(|e| format!("unzip: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("cannot read {}", zip.display()))
}
