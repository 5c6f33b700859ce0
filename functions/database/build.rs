//! Finds the migrations in `migrations/<database>/` at build time, so a new `.sql` file needs no
//! Rust edit: each file must be named `NNNN_name.sql` (four digits, then lower-case letters,
//! digits and underscores); they apply in the order of their names. Writes
//! `$OUT_DIR/migrations.rs`, one `(version, include_str!(path))` list per database; a misnamed
//! file or a repeated number fails the build, naming the file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const DATABASES: [(&str, &str); 2] = [("MOVIES", "movies"), ("ORDERS", "orders")];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    println!("cargo::rerun-if-changed={}", root.display());
    let mut out = String::new();
    for (constant, db) in DATABASES {
        let dir = root.join(db);
        let files = migrations(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert!(!files.is_empty(), "no migrations in {}", dir.display());
        writeln!(out, "pub(crate) const {constant}: &[(&str, &str)] = &[").ok();
        for (version, path) in files {
            writeln!(
                out,
                "    ({version:?}, include_str!({:?})),",
                path.display()
            )
            .ok();
        }
        writeln!(out, "];").ok();
    }
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(dest.join("migrations.rs"), out).expect("write migrations.rs");
}

/// `(version, path)` of every `.sql` file in `dir`, by name.
fn migrations(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let Some(version) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".sql"))
        else {
            continue;
        };
        let (number, name) = version.split_at_checked(4).unwrap_or(("", ""));
        let well_named = number.bytes().all(|b| b.is_ascii_digit())
            && number.len() == 4
            && name.len() > 1
            && name.starts_with('_')
            && name[1..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !well_named {
            return Err(format!(
                "{}: a migration is named NNNN_name.sql (four digits, then a-z, 0-9, _)",
                path.display()
            ));
        }
        let path = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        files.push((version.to_owned(), path));
    }
    files.sort();
    for pair in files.windows(2) {
        if pair[0].0[..4] == pair[1].0[..4] {
            return Err(format!(
                "{} and {} have the same number",
                pair[0].1.display(),
                pair[1].1.display()
            ));
        }
    }
    Ok(files)
}
