#!/usr/bin/env python3
"""The product builds without its harness (make test).

1. No crate under functions/ depends on a harness crate (local-gateway, integration-tests,
   bench), as a normal, build or dev dependency: `cargo tree` of each product crate.
2. Each function links only the libraries it uses: its normal dependencies among the
   workspace's crates are printed, and billing-consumer and setup must not reach axum or
   lambda_http, billing-consumer no AMQP client (lapin).
3. The product alone resolves to the same versions: functions/, migrations/ and the root
   manifests copied to a scratch directory, the lines marked `# harness` dropped from Cargo.toml
   (a build of the product alone), `cargo metadata` there; every package of the lock file it
   writes must be in Cargo.lock with the same version and checksum (only harness-only packages
   may go).

Prints what it found; exits 1 naming the first rule broken.
"""

import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
HARNESS = {"local-gateway", "integration-tests", "bench"}
FUNCTIONS = ["inventory", "billing-api", "billing-consumer", "setup"]
# What a function must not link, and why.
FORBIDDEN = {
    "billing-consumer": {"axum": "serves no HTTP", "lambda_http": "serves no HTTP", "lapin": "reads the event source mapping's events, never the broker"},
    "setup": {"axum": "serves no HTTP", "lambda_http": "serves no HTTP"},
}


def say(msg):
    print(f"\033[1m[product]\033[0m {msg}", file=sys.stderr)


def fail(msg):
    say(f"FAIL: {msg}")
    sys.exit(1)


def cargo(*args, cwd=ROOT):
    out = subprocess.run(["cargo", *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"cargo {' '.join(args)}: {out.stderr.strip()[-2000:]}")
    return out.stdout


def tree(package, edges):
    """The package names in `cargo tree -p package -e edges`, deduplicated."""
    text = cargo("tree", "--locked", "-p", package, "-e", edges, "--prefix", "none", "--format", "{p}")
    return {line.split()[0] for line in text.splitlines() if line.strip()}


def lock_packages(text):
    """{(name, version): checksum-or-source} of a Cargo.lock."""
    out = {}
    for block in text.split("[[package]]")[1:]:
        fields = dict(re.findall(r'^(name|version|source|checksum) = "([^"]*)"', block, re.M))
        out[(fields["name"], fields["version"])] = (fields.get("source"), fields.get("checksum"))
    return out


def main():
    meta = json.loads(cargo("metadata", "--locked", "--format-version", "1", "--no-deps"))
    product = sorted(
        p["name"] for p in meta["packages"]
        if pathlib.Path(p["manifest_path"]).resolve().is_relative_to(ROOT / "functions")
    )
    workspace = {p["name"] for p in meta["packages"]}
    say(f"product crates: {', '.join(product)}")
    for crate in product:
        reached = tree(crate, "normal,build,dev") & HARNESS
        if reached:
            fail(f"{crate} depends on the harness: {', '.join(sorted(reached))}")
    say("no product crate depends on the harness, even for its tests")

    for f in FUNCTIONS:
        deps = tree(f, "normal")
        ours = sorted((deps & workspace) - {f})
        say(f"{f} links: {', '.join(ours)} ({len(deps)} crates in all)")
        for crate, why in FORBIDDEN.get(f, {}).items():
            if crate in deps:
                fail(f"{f} links {crate}, but it {why}")

    full = lock_packages((ROOT / "Cargo.lock").read_text())
    with tempfile.TemporaryDirectory(prefix="product-") as tmp:
        tmp = pathlib.Path(tmp)
        files = subprocess.run(
            ["git", "ls-files", "Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "functions", "migrations"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()
        for name in files:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tmp / name)
        manifest = tmp / "Cargo.toml"
        kept = [l for l in manifest.read_text().splitlines(keepends=True) if not l.rstrip().endswith("# harness")]
        manifest.write_text("".join(kept))
        alone = json.loads(cargo("metadata", "--format-version", "1", "--no-deps", cwd=tmp))
        members = sorted(p["name"] for p in alone["packages"])
        if members != product:
            fail(f"the product's workspace has {members}, expected {product}")
        cargo("metadata", "--format-version", "1", cwd=tmp)
        pruned = lock_packages((tmp / "Cargo.lock").read_text())
    changed = [f"{n} {v}" for (n, v), src in pruned.items() if full.get((n, v)) != src]
    if changed:
        fail(f"the product alone resolves differently from Cargo.lock: {', '.join(changed)}")
    dropped = sorted(n for (n, _v) in set(full) - set(pruned))
    say(
        f"the product alone resolves to {len(pruned)} packages, each as in Cargo.lock; "
        f"{len(dropped)} are the harness's only ({', '.join(dropped[:8])}{', ...' if len(dropped) > 8 else ''})"
    )


if __name__ == "__main__":
    main()
