#!/usr/bin/env python3
"""Every migration is readable by the release before it: run by `make test` (python3 and psql).

A deploy applies the migrations (setup) before the new code takes traffic, and the old code keeps
serving until the rollout ends, so each migration must keep accepting the SQL of the release before
it (docs/operations.md, "Migrations: expand, then contract"). For each migration M of
migrations/<database>/, in name order (as functions/database/build.rs embeds them):

- the release before it is the parent of the commit that added M (`git log --diff-filter=A`), and
  also, when M came in a merge, the merge's first parent (the main line before it landed); HEAD
  while M is not committed yet; a migration of the first commit has none;
- that revision's SQL is every string literal of functions/inventory/src (the movies database),
  functions/billing-api/src and functions/billing-consumer/src (orders) that starts like a
  SELECT, INSERT, UPDATE, DELETE or WITH statement, outside `#[cfg(test)]` items, test modules'
  files and tests/ directories (the `DATABASE_NAME` of each function in terraform/main.tf);
- a fresh database gets the migrations up to and including M as setup applies them (one
  transaction per file under setup's advisory lock, recorded in schema_migrations), and each
  statement is PREPAREd there: PostgreSQL resolves its tables, columns, functions and types and
  infers its parameters' types, as tokio-postgres' prepare does, without running it; its parameter
  and result types (psql's \\gdesc) must be those it had before M, text-like types counting as one.

The code of this tree is also prepared against all its migrations. A failure names the migration,
the revision, the file and line, the statement and PostgreSQL's error, and says whether the
statement prepared before that migration; a revision whose function code yields no statement
fails too (an extractor that finds nothing must not pass). Needs the whole git history.

    scripts/migration-compat.py              # this checkout (CRUD_PG_* of .local/env)
    scripts/migration-compat.py --self-test  # the extractor on known Rust, then breaking and
                                             # additive migrations in a temporary clone
Databases are named t_<pid>_compat_..., dropped on exit (scripts/drop-test-databases.sh drops
those of a run that was killed), so two runs can share the cluster.
"""
import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIGRATE_RS = "functions/database/build.rs"
# The names build.rs accepts (it fails the build on any other .sql file).
MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Each function's database, as terraform/main.tf sets DATABASE_NAME; a statement mapped to the
# wrong database would not prepare there, so a wrong entry fails loudly.
CRATES = {
    "functions/inventory/src": "movies",
    "functions/billing-api/src": "orders",
    "functions/billing-consumer/src": "orders",
}
DATABASES = ("movies", "orders")
# migrate.rs's lock: taken the same way, so a migration runs in the transaction setup gives it.
ADVISORY_LOCK = 7210411


class Fail(Exception):
    """Stops the check: the setup is wrong (history, services, migrate.rs), not a migration."""


def git(root, *args, text=True, **kw):
    r = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=text, **kw)
    if r.returncode != 0:
        raise Fail(f"git {' '.join(args)}: {r.stderr.strip() if text else r.stderr.decode()}")
    return r.stdout


# ---------------------------------------------------------------- Rust, just enough of it
RAW_STRING = re.compile(r'([bc]?)r(#*)"')
CHAR_LITERAL = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])'")
IDENT = re.compile(r"[A-Za-z_0-9]+")
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0", "'": "'", '"': '"'}


def tokens(src):
    """(kind, value, line) for Rust source: `str` (a string literal, decoded), `bytes` (a byte or
    C string), `ident` (words and numbers) and `punct` (one character); comments are dropped."""
    i, n, line = 0, len(src), 1
    while i < n:
        c = src[i]
        if c == "\n":
            line, i = line + 1, i + 1
        elif c.isspace():
            i += 1
        elif src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, j = 1, i + 2
            while depth:
                if j >= n:
                    raise ValueError(f"line {line}: unterminated block comment")
                if src.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif src.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            line += src.count("\n", i, j)
            i = j
        elif (m := RAW_STRING.match(src, i)) and not (i and (src[i - 1].isalnum() or src[i - 1] == "_")):
            close = '"' + m.group(2)
            j = src.find(close, m.end())
            if j < 0:
                raise ValueError(f"line {line}: unterminated raw string")
            yield ("bytes" if m.group(1) else "str"), src[m.end() : j], line
            line += src.count("\n", i, j)
            i = j + len(close)
        elif c == '"' or (c in "bc" and src.startswith('"', i + 1) and not (i and src[i - 1].isalnum())):
            start = i
            i = i + 1 if c == '"' else i + 2
            out = []
            while True:
                if i >= n:
                    raise ValueError(f"line {line}: unterminated string")
                ch = src[i]
                if ch == '"':
                    i += 1
                    break
                if ch != "\\":
                    out.append(ch)
                    i += 1
                    continue
                e = src[i + 1]
                if e in ESCAPES:
                    out.append(ESCAPES[e])
                    i += 2
                elif e == "x":
                    out.append(chr(int(src[i + 2 : i + 4], 16)))
                    i += 4
                elif e == "u":
                    j = src.index("}", i)
                    out.append(chr(int(src[i + 3 : j], 16)))
                    i = j + 1
                elif e in "\r\n":
                    # A line continuation: the newline and the next line's leading whitespace go.
                    i += 2
                    while i < n and src[i] in " \t\r\n":
                        i += 1
                else:
                    raise ValueError(f"line {line}: unknown escape \\{e}")
            yield ("str" if c == '"' else "bytes"), "".join(out), line
            line += src.count("\n", start, i)
        elif c == "'":
            m = CHAR_LITERAL.match(src, i)
            i = m.end() if m else i + 1  # no match: a lifetime or a label
        elif m := IDENT.match(src, i):
            yield "ident", m.group(0), line
            i = m.end()
        else:
            yield "punct", c, line
            i += 1


def closing(toks, i):
    """The index of the bracket that closes toks[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = []
    for j in range(i, len(toks)):
        kind, v, _ = toks[j]
        if kind != "punct":
            continue
        if v in pairs:
            stack.append(pairs[v])
        elif stack and v == stack[-1]:
            stack.pop()
            if not stack:
                return j
    raise ValueError(f"line {toks[i][2]}: unbalanced {toks[i][1]}")


def attribute_at(toks, i):
    """(index of its `]`, inner, is #[cfg(test)]-like) when an attribute starts at i, else None."""
    if toks[i][:2] != ("punct", "#"):
        return None
    j = i + 1
    inner = j < len(toks) and toks[j][:2] == ("punct", "!")
    j += inner
    if j >= len(toks) or toks[j][:2] != ("punct", "["):
        return None
    end = closing(toks, j)
    words = [v for kind, v, _ in toks[j + 1 : end] if kind == "ident"]
    return end, inner, bool(words) and words[0] == "cfg" and "test" in words and "not" not in words


def code_strings(src):
    """The string literals outside test code, as (line, text), and the modules declared
    `#[cfg(test)] mod name;` (files of their own, tests too)."""
    toks = list(tokens(src))
    strings, test_modules, i = [], set(), 0
    while i < len(toks):
        attr = attribute_at(toks, i)
        if attr is None:
            if toks[i][0] == "str":
                strings.append((toks[i][2], toks[i][1]))
            i += 1
            continue
        end, inner, is_test = attr
        if is_test and inner:
            return [], set()  # #![cfg(test)]: the whole file is a test
        i = end + 1
        if not is_test:
            continue  # another attribute: its strings (docs, paths) are not SQL
        while i < len(toks) and (a := attribute_at(toks, i)):
            i = a[0] + 1
        # The item the attribute removes: up to its `;`, or through its `{ ... }` body.
        start = i
        while i < len(toks):
            kind, v, _ = toks[i]
            if kind == "punct" and v in "([":
                i = closing(toks, i) + 1
                continue
            if kind == "punct" and v == ";":
                words = [w for k, w, _ in toks[start:i] if k == "ident"]
                if "mod" in words and words.index("mod") + 1 < len(words):
                    test_modules.add(words[words.index("mod") + 1])
                i += 1
                break
            if kind == "punct" and v == "{":
                i = closing(toks, i) + 1
                break
            i += 1
    return strings, test_modules


SQL_START = re.compile(
    r"""\s*(?:--[^\n]*\n\s*)*
    (?: (?P<select>SELECT)\b
      | INSERT\s+INTO\b
      | UPDATE\s+(?:ONLY\s+)?[\w."]+(?:\s+(?:AS\s+)?\w+)?\s+SET\b
      | DELETE\s+FROM\b
      | WITH\s+(?:RECURSIVE\s+)?\w+\s*(?:\([^)]*\)\s*)?AS\b )""",
    re.I | re.X,
)


def is_sql(text):
    """A statement the code sends: its first words are a statement's. A lower-case `select` needs
    a FROM or a parameter too, so prose ("select a movie") is not taken for SQL."""
    m = SQL_START.match(text)
    if not m:
        return False
    word = m.group("select")
    return word is None or word == "SELECT" or re.search(r"\bfrom\b|\$\d", text, re.I) is not None


def module_dir(path):
    """Where the files of a module declared in `path` live (Rust 2018 layout)."""
    p = Path(path)
    return p.parent if p.name in ("lib.rs", "main.rs", "mod.rs") else p.parent / p.stem


def statements(files):
    """{database: {sql: [(path, line), ...]}} and {crate: count} from {path: source}."""
    scanned, excluded = {}, set()
    for path, src in sorted(files.items()):
        try:
            scanned[path], mods = code_strings(src)
        except ValueError as e:
            raise Fail(f"{path}: {e}: the SQL extractor cannot read this file") from None
        excluded |= {module_dir(path) / m for m in mods}
    found = {db: {} for db in DATABASES}
    per_crate = {crate: 0 for crate in CRATES}
    for path, strings in scanned.items():
        p = Path(path)
        if "tests" in p.parts or any(d == p.with_suffix("") or d in p.parents for d in excluded):
            continue
        crate = next(c for c in CRATES if path.startswith(c + "/"))
        for line, text in strings:
            if is_sql(text):
                sql = text.strip().rstrip(";").strip()
                if sql not in found[CRATES[crate]]:
                    per_crate[crate] += 1
                found[CRATES[crate]].setdefault(sql, []).append((path, line))
    return found, per_crate


def sources_at(root, rev):
    """{path: text} of the functions' Rust files at a revision (None: the working tree)."""
    if rev is None:
        return {
            str(p.relative_to(root)): p.read_text()
            for crate in CRATES
            for p in sorted((root / crate).rglob("*.rs"))
        }
    paths = [p for p in git(root, "ls-tree", "-r", "--name-only", rev, "--", *CRATES).split("\n") if p.endswith(".rs")]
    if not paths:
        return {}
    out = git(root, "cat-file", "--batch", input="".join(f"{rev}:{p}\n" for p in paths).encode(), text=False)
    files, pos = {}, 0
    for p in paths:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[p] = out[header_end + 1 : header_end + 1 + size].decode()
        pos = header_end + 1 + size + 1
    return files


# ---------------------------------------------------------------- history
def require_full_history(root):
    if git(root, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise Fail(
            "this clone is shallow: the migrations' history (which release came before each one) is "
            "missing. Fetch it with `git fetch --unshallow`; in GitHub Actions give "
            "actions/checkout `fetch-depth: 0`."
        )


def previous_releases(root, rel):
    """[(revision, why it is one)] for a migration: [] when the first commit added it."""
    added = git(root, "log", "--diff-filter=A", "--format=%H", "--", rel).split()
    if not added:
        return [(git(root, "rev-parse", "HEAD").strip(), "HEAD: it is not committed yet")]
    # The newest addition: a file deleted and added again ships with the last one.
    adder = added[0]
    parents = git(root, "rev-list", "--parents", "-n", "1", adder).split()[1:]
    if not parents:
        return []
    out = [(parents[0], f"parent of {short(adder)}, which added it")]
    # A migration written on a branch reaches the main line in a merge, whose first parent is the
    # release that ran before it landed, which may run SQL the branch never saw.
    entered = git(root, "log", "--first-parent", "--diff-merges=first-parent", "--diff-filter=A", "--format=%H %P", "--", rel).split("\n")[0].split()
    if len(entered) > 1 and entered[0] != adder:
        out.append((entered[1], f"first parent of {short(entered[0])}, which brought it in"))
    return out


def read_migrations(root):
    """{database: [(version, path)]} in name order, as build.rs embeds them."""
    listed = {}
    for db in DATABASES:
        files = sorted(p.name for p in (root / "migrations" / db).glob("*.sql"))
        if not files:
            raise Fail(f"found no migrations/{db}/*.sql: has the layout changed?")
        for name in files:
            if not MIGRATION_NAME.match(name):
                raise Fail(f"migrations/{db}/{name} is not named NNNN_name.sql: {MIGRATE_RS} refuses to build with it")
        numbers = [n[:4] for n in files]
        for n in sorted({n for n in numbers if numbers.count(n) > 1}):
            raise Fail(f"migrations/{db}/ has two migrations numbered {n}: {MIGRATE_RS} refuses to build with them")
        listed[db] = [(n.removesuffix(".sql"), f"migrations/{db}/{n}") for n in files]
    return listed


# ---------------------------------------------------------------- PostgreSQL
def pg_env():
    missing = [v for v in ("CRUD_PG_HOST", "CRUD_PG_PORT", "CRUD_PG_USER", "CRUD_PG_PASSWORD") if not os.environ.get(v)]
    if missing:
        raise Fail(f"{', '.join(missing)} not set: source .local/env (make test does; make services writes it)")
    if not shutil.which("psql"):
        raise Fail("psql not found (make tools installs postgresql-client)")
    env = dict(os.environ)
    env.update(
        PGHOST=os.environ["CRUD_PG_HOST"],
        PGPORT=os.environ["CRUD_PG_PORT"],
        PGUSER=os.environ["CRUD_PG_USER"],
        PGPASSWORD=os.environ["CRUD_PG_PASSWORD"],
        PGCONNECT_TIMEOUT="10",
    )
    return env


def psql(env, db, *commands, transaction=True):
    """Runs each command as one simple query (as batch_execute does), all in one transaction."""
    args = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db] + ["-1"] * transaction
    for c in commands:
        args += ["-c", c]
    return subprocess.run(args, env=env, capture_output=True, text=True)


def literal(s):
    return "'" + s.replace("'", "''") + "'"


PREPARE_ALL = """
CREATE TEMP TABLE compat_failures (i int, code text, message text, detail text, hint text);
CREATE TEMP TABLE compat_params (i int, types jsonb);
DO $compat$
DECLARE s text; i bigint; d text; h text;
BEGIN
    FOR s, i IN SELECT convert_from(decode(b, 'base64'), 'UTF8'), n
                  FROM unnest(ARRAY[%s]::text[]) WITH ORDINALITY AS t(b, n) LOOP
        BEGIN
            EXECUTE format('PREPARE compat_%%s AS %%s', i, s);
            INSERT INTO compat_params
                SELECT i, (SELECT jsonb_agg(t::regtype::text ORDER BY n) FROM unnest(parameter_types) WITH ORDINALITY u(t, n))
                  FROM pg_prepared_statements WHERE name = 'compat_' || i;
            EXECUTE format('DEALLOCATE compat_%%s', i);
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
            INSERT INTO compat_failures VALUES (i, SQLSTATE, SQLERRM, d, h);
        END;
    END LOOP;
END
$compat$;
SELECT jsonb_build_object(
    'failures', (SELECT coalesce(jsonb_agg(to_jsonb(f)), '[]') FROM compat_failures f),
    'params', (SELECT coalesce(jsonb_object_agg(i, coalesce(types, '[]')), '{}') FROM compat_params));
"""
# tokio-postgres binds a String to any of these and reads any of them into one.
TEXT_LIKE = {"text", "character varying", "character", "name", "citext", "unknown"}


def type_name(t):
    """A type as a client binds or reads it: no typmod (numeric(12,2) is numeric), text-like as text."""
    t = re.sub(r"\([^)]*\)", "", t).strip()
    array = t.endswith("[]")
    base = t[:-2] if array else t
    return ("text" if base in TEXT_LIKE else base) + "[]" * array


def result_types(env, db, sqls, indexes):
    """{index: (result column types)} through psql's \\gdesc, which describes without running."""
    script = ["\\pset format unaligned", "\\pset tuples_only on"]
    for i in indexes:
        script += [f"\\echo @@compat {i}", sqls[i], "\\gdesc"]
    r = subprocess.run(["psql", "-X", "-q", "-d", db], input="\n".join(script) + "\n", env=env, capture_output=True, text=True)
    out, current = {}, None
    for line in r.stdout.splitlines():
        if line.startswith("@@compat "):
            current = int(line.split()[1])
            out[current] = ()
        elif current is not None and "|" in line:
            out[current] += (type_name(line.rsplit("|", 1)[1]),)
    return out


def prepare_all(env, db, sqls, shapes=False):
    """({index into sqls: PostgreSQL's error} for the statements that do not PREPARE, and with
    `shapes` {index: (parameter types, result types)} for those that do)."""
    if not sqls:
        return {}, {}
    encoded = ",".join(literal(base64.b64encode(s.encode()).decode()) for s in sqls)
    r = psql(env, db, PREPARE_ALL % encoded)
    if r.returncode != 0:
        raise Fail(f"PREPARE in {db}: {r.stderr.strip()}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    failed = {f["i"] - 1: f for f in got["failures"]}
    if not shapes:
        return failed, {}
    params = {int(i) - 1: tuple(type_name(t) for t in types) for i, types in got["params"].items()}
    results = result_types(env, db, sqls, sorted(params))
    return failed, {i: (params[i], results[i]) for i in params if i in results}


def pg_error(f):
    out = f"ERROR {f['code']}: {f['message']}"
    for key in ("detail", "hint"):
        if f[key]:
            out += f"\n      {key.upper()}: {f[key]}"
    return out


def short(rev):
    return rev[:10]


# ---------------------------------------------------------------- the check
def check(root, only=None, verbose=False):
    started = time.monotonic()
    require_full_history(root)
    env = pg_env()
    migrations = read_migrations(root)
    names = {f"{db}/{Path(p).stem}" for db in DATABASES for _, p in migrations[db]}
    for o in only or ():
        if o not in names:
            raise Fail(f"--only {o}: no such migration ({', '.join(sorted(names))})")
    r = psql(env, "postgres", "SHOW server_version")
    if r.returncode != 0:
        raise Fail(f"cannot reach PostgreSQL at {env['PGHOST']}:{env['PGPORT']}: {r.stderr.strip()} (make services starts it)")
    print(f"migration-compat: each migration against the SQL of the release before it (PREPARE, PostgreSQL {r.stdout.split()[0]})")

    cache, failures, prepared, revisions = {}, [], 0, set()

    def sql_at(rev):
        if rev not in cache:
            files = sources_at(root, rev)
            found, per_crate = statements(files)
            label = "this tree" if rev is None else short(rev)
            parts = []
            for db in DATABASES:
                crates = ", ".join(f"{c.split('/')[1]} {per_crate[c]}" for c in CRATES if CRATES[c] == db)
                parts.append(f"{db} {len(found[db])} ({crates})")
            print(f"    statements at {label}: {'; '.join(parts)}")
            for db in DATABASES:
                present = [c for c in CRATES if CRATES[c] == db and any(p.startswith(c + "/") for p in files)]
                if present and not found[db]:
                    raise Fail(
                        f"found no SQL for {db} at {label}, which has {', '.join(present)}: the extractor "
                        "no longer recognises how the code writes its statements"
                    )
            if verbose:
                for db in DATABASES:
                    for sql, where in found[db].items():
                        print(f"      {db} {where[0][0]}:{where[0][1]}: {' '.join(sql.split())}")
            cache[rev] = found
        return cache[rev]

    def report(what, rev, db, found, after, before):
        sqls = list(found)
        (failed, shapes), (failed_before, shapes_before) = after, before or ({}, {})

        def fail(i, why):
            path, line = found[sqls[i]][0]
            text = "\n      ".join(sqls[i].splitlines())
            failures.append(f"FAIL {what}\n    {path}:{line} at {rev}, the {db} database:\n      {text}\n    {why}")

        for i, f in sorted(failed.items()):
            if before is None:
                blame = ""
            elif i in failed_before:
                blame = "\n    it did not prepare before this migration either"
            else:
                blame = "\n    it prepared before this migration: this migration breaks it"
            fail(i, f"PostgreSQL: {pg_error(f)}{blame}")
        bad = set(failed)
        for i, (params, results) in sorted(shapes.items()):
            was = shapes_before.get(i)
            if was and was != (params, results):
                changes = [
                    f"{kind} ({', '.join(old)}) -> ({', '.join(new)})"
                    for kind, old, new in (("parameters", was[0], params), ("result", was[1], results))
                    if old != new
                ]
                fail(i, f"this migration changes its types: {'; '.join(changes)}; the release before it binds and reads the old ones (tokio-postgres refuses another type)")
                bad.add(i)
        return len(sqls) - len(bad)

    dbs = [db for db in DATABASES if not only or any(o.startswith(db + "/") for o in only)]
    for db in dbs:
        name = f"t_{os.getpid()}_compat_{db}_{secrets.token_hex(4)}"
        r = psql(env, "postgres", f'CREATE DATABASE "{name}"', transaction=False)
        if r.returncode != 0:
            raise Fail(f"CREATE DATABASE {name}: {r.stderr.strip()}")
        try:
            # migrate.rs creates this table before its first transaction.
            r = psql(env, name, "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            if r.returncode != 0:
                raise Fail(f"schema_migrations in {name}: {r.stderr.strip()}")
            for k, (version, rel) in enumerate(migrations[db]):
                m = f"{db}/{Path(rel).stem}"
                selected = not only or m in only
                releases = previous_releases(root, rel) if selected else []
                if selected and not releases:
                    print(f"{m}: added in the first commit: no release before it")
                elif selected:
                    print(f"{m}: the release{'s' * (len(releases) > 1)} before it: {'; '.join(f'{short(r)} ({why})' for r, why in releases)}")
                found = {rev: sql_at(rev)[db] for rev, _ in releases}
                before = {rev: prepare_all(env, name, list(f), shapes=True) for rev, f in found.items()} if k else {}
                r = psql(
                    env,
                    name,
                    f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})",
                    (root / rel).read_text(),
                    f"INSERT INTO schema_migrations (version) VALUES ({literal(version)})",
                )
                if r.returncode != 0:
                    raise Fail(f"{rel} does not apply after the migrations before it: {r.stderr.strip()}")
                for rev, f in found.items():
                    revisions.add(rev)
                    after = prepare_all(env, name, list(f), shapes=k > 0)
                    prepared += len(f)
                    ok = report(f"{m}: the release before it cannot run this", short(rev), db, f, after, before.get(rev))
                    same = ", with the types they had before it" if k else ""
                    print(f"    {short(rev)}: {ok} of {len(f)} {db} statements prepare after it{same}")
            # The code being tested against its own migrations: a sanity check of the extractor.
            found = sql_at(None)[db]
            after = prepare_all(env, name, list(found))
            prepared += len(found)
            ok = report(f"this tree against its own {db} migrations", "this tree", db, found, after, None)
            print(f"this tree: {ok} of {len(found)} {db} statements prepare after all {len(migrations[db])} {db} migrations")
        finally:
            psql(env, "postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', transaction=False)

    took = time.monotonic() - started
    checked = sum(1 for db in dbs for _, p in migrations[db] if not only or f"{db}/{Path(p).stem}" in only)
    summary = f"migrations checked {checked}, earlier releases {len(revisions)}, statements prepared {prepared}, in {took:.1f} s"
    for f in failures:
        print(f, file=sys.stderr)
    if failures:
        print(
            f"migration-compat: {len(failures)} statements fail ({summary}). A migration must keep what the running "
            "release reads: expand, then contract (docs/operations.md#migrations-expand-then-contract)",
            file=sys.stderr,
        )
        return 1
    print(f"migration-compat: ok, {summary}")
    return 0


# ---------------------------------------------------------------- self-test
RUST_SAMPLE = r'''
//! "SELECT in a doc comment"
const A: &str = "SELECT id FROM movies WHERE title = 'a\"b' AND x = $1";
const B: &str = "SELECT 1 \
                 FROM movies";
const C: &str = r"SELECT '\n' FROM movies";
const D: &str = r#"SELECT "id" FROM movies WHERE title LIKE '%"x"%'"#;
const E: &str = "\n    INSERT INTO movies (title) VALUES ($1)\n    RETURNING id";
/* a "block /* nested "SELECT x" */ comment */
fn f<'a>(x: &'a str) -> char { let _q = '"'; let _e = '\''; let _u = '\u{2603}'; 'x' }
#[derive(Debug)]
struct S { s: &'static str }
#[doc = "SELECT from an attribute"]
fn g() { h("UPDATE movies SET title = $2 WHERE id = $1"); h("DELETE /api/movies"); h("select a movie"); }
fn w() { h("WITH x AS (SELECT 1) SELECT * FROM x"); h("with care"); h("Update the title"); }
#[cfg(test)]
mod tests { const T: &str = "SELECT not_code FROM movies"; fn t() { "DELETE FROM x"; } }
#[cfg(test)]
mod more;
#[cfg(test)]
fn helper() -> [u8; 2] { "SELECT helper FROM x"; [0; 2] }
#[cfg(not(test))]
const N: &str = "DELETE FROM movies WHERE id = $1";
const Z: &[u8] = b"SELECT bytes FROM x";
'''
RUST_SAMPLE_SQL = [
    "SELECT id FROM movies WHERE title = 'a\"b' AND x = $1",
    "SELECT 1 FROM movies",
    "SELECT '\\n' FROM movies",
    "SELECT \"id\" FROM movies WHERE title LIKE '%\"x\"%'",
    "INSERT INTO movies (title) VALUES ($1)\n    RETURNING id",
    "UPDATE movies SET title = $2 WHERE id = $1",
    "WITH x AS (SELECT 1) SELECT * FROM x",
    "DELETE FROM movies WHERE id = $1",
]


def run_self(repo, *args):
    r = subprocess.run([sys.executable, __file__, "--repo", str(repo), *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def self_test():
    started = time.monotonic()
    failed, ran = [], []

    def expect(name, ok, output=""):
        ran.append(name)
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        if not ok:
            failed.append(name)
            print("      " + output.replace("\n", "\n      "))

    pg_env()  # each case below needs PostgreSQL: say so once
    print("migration-compat self-test")
    files = {
        "functions/inventory/src/repo.rs": RUST_SAMPLE,
        "functions/inventory/src/repo/more.rs": 'const M: &str = "SELECT from_a_test_module FROM x";',
        "functions/inventory/tests/x.rs": 'const X: &str = "SELECT from_tests FROM x";',
    }
    found, _ = statements(files)
    got = list(found["movies"])
    expect("the extractor: escapes, continuations, raw strings; no comment, attribute, prose or test code", got == RUST_SAMPLE_SQL, f"got {got!r}")

    base_repo = ROOT
    with tempfile.TemporaryDirectory(prefix="migration-compat-") as tmp:
        head = git(base_repo, "rev-parse", "HEAD").strip()
        repo = Path(tmp) / "repo"
        git(base_repo, "clone", "-q", "--no-checkout", str(base_repo), str(repo))
        git(repo, "checkout", "-q", "--detach", head)

        def reset():
            git(repo, "reset", "-q", "--hard", head)
            git(repo, "clean", "-qfd")

        def add_migration(db, name, sql, commit=False):
            (repo / "migrations" / db / f"{name}.sql").write_text(sql)
            if commit:
                commit_all(f"self-test: {name}")

        def commit_all(message):
            git(repo, "add", "-A")
            git(repo, "-c", "user.name=self-test", "-c", "user.email=self-test@localhost", "commit", "-q", "-m", message)
            return git(repo, "rev-parse", "HEAD").strip()

        short_head = short(head)

        reset()
        add_migration("movies", "0100_selftest_add_year", "ALTER TABLE movies ADD COLUMN year int;\n")
        code, out = run_self(repo, "--only", "movies/0100_selftest_add_year")
        expect("an added nullable column passes", code == 0 and f"{short_head} (HEAD: it is not committed yet)" in out, out)

        reset()
        add_migration("movies", "0100_selftest_rename", "ALTER TABLE movies RENAME COLUMN title TO name;\n")
        code, out = run_self(repo, "--only", "movies/0100_selftest_rename")
        expect(
            "a renamed column fails, naming the migration, the release, the file and PostgreSQL's error",
            code == 1
            and "FAIL movies/0100_selftest_rename" in out
            and "functions/inventory/src/repo.rs:" in out
            and f"at {short_head}" in out
            and 'column "title" does not exist' in out
            and "this migration breaks it" in out,
            out,
        )

        reset()
        add_migration(
            "movies",
            "0100_selftest_signature",
            "DROP FUNCTION search_movies(text, bigint, bigint);\n"
            "CREATE FUNCTION search_movies(pattern text, before bigint, wanted bigint, exact boolean)\n"
            "RETURNS TABLE (id bigint, title text, description text) LANGUAGE sql STABLE AS $$\n"
            "    SELECT m.id, m.title, m.description FROM movies m\n"
            "     WHERE m.id < before AND m.title ILIKE pattern ORDER BY m.id DESC LIMIT wanted\n"
            "$$;\n",
            commit=True,
        )
        adder = short(git(repo, "rev-parse", "HEAD").strip())
        code, out = run_self(repo, "--only", "movies/0100_selftest_signature")
        expect(
            "search_movies' signature changed in place (committed) fails against the commit before it",
            code == 1
            and f"parent of {adder}, which added it" in out
            and "FAIL movies/0100_selftest_signature" in out
            and "function search_movies(unknown, unknown, unknown) does not exist" in out,
            out,
        )

        reset()
        git(repo, "checkout", "-q", "-b", "selftest-branch")
        add_migration("movies", "0100_selftest_drop_created", "ALTER TABLE movies DROP COLUMN created_at;\n", commit=True)
        git(repo, "checkout", "-q", "--detach", head)
        repo_rs = repo / "functions/inventory/src/repo.rs"
        repo_rs.write_text(repo_rs.read_text() + '\npub const CREATED_SQL: &str = "SELECT created_at FROM movies WHERE id = $1";\n')
        main_line = short(commit_all("self-test: the main line reads created_at"))
        git(repo, "-c", "user.name=self-test", "-c", "user.email=self-test@localhost", "merge", "-q", "--no-ff", "-m", "self-test: merge", "selftest-branch")
        code, out = run_self(repo, "--only", "movies/0100_selftest_drop_created")
        expect(
            "a branch's migration fails against what the main line ran before the merge",
            code == 1 and f"{main_line} (first parent of" in out and f"at {main_line}" in out and 'column "created_at" does not exist' in out,
            out,
        )
        git(repo, "branch", "-q", "-D", "selftest-branch")

        reset()
        add_migration("movies", "0100_selftest_id_int", "ALTER TABLE movies ALTER COLUMN id TYPE integer;\n")
        code, out = run_self(repo, "--only", "movies/0100_selftest_id_int")
        expect(
            "a column's type changed under the release before it fails (bigint to integer)",
            code == 1 and "this migration changes its types: parameters (bigint, bigint) -> (integer, bigint); result (bigint, text, text) -> (integer, text, text)" in out,
            out,
        )

        reset()
        add_migration("orders", "0100_selftest_varchar", "ALTER TABLE orders ALTER COLUMN principal TYPE varchar(200);\n")
        code, out = run_self(repo, "--only", "orders/0100_selftest_varchar")
        expect("text to varchar passes (a String binds and reads either)", code == 0, out)

        reset()
        add_migration("orders", "0100_selftest_drop_owner", "ALTER TABLE orders DROP COLUMN owner_sub;\n")
        code, out = run_self(repo, "--only", "orders/0100_selftest_drop_owner")
        expect(
            "a dropped column the release before reads fails in billing-api and billing-consumer",
            code == 1
            and "functions/billing-api/src/" in out
            and "functions/billing-consumer/src/" in out
            and 'column "owner_sub"' in out,
            out,
        )

        reset()
        repo_rs = repo / "functions/inventory/src/repo.rs"
        repo_rs.write_text(re.sub(r'"(\s*)(SELECT|INSERT|UPDATE|DELETE)', r'"/**/\1\2', repo_rs.read_text()))
        commit_all("self-test: SQL the extractor cannot see")
        add_migration("movies", "0100_selftest_unseen", "SELECT 1;\n", commit=True)
        code, out = run_self(repo, "--only", "movies/0100_selftest_unseen")
        expect("a release whose SQL the extractor cannot find fails", code == 1 and "found no SQL for movies" in out, out)

        reset()
        (repo / "migrations/movies/0100-selftest-misnamed.sql").write_text("SELECT 1;\n")
        code, out = run_self(repo)
        expect("a migration file the build would refuse fails", code == 1 and "is not named NNNN_name.sql" in out, out)

        shallow = Path(tmp) / "shallow"
        git(base_repo, "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow))
        code, out = run_self(shallow)
        expect("a shallow clone fails and says how to fetch the history", code == 1 and "git fetch --unshallow" in out and "fetch-depth: 0" in out, out)

    took = time.monotonic() - started
    if failed:
        print(f"migration-compat self-test: {len(failed)} of {len(ran)} failed ({took:.1f} s)", file=sys.stderr)
        return 1
    print(f"migration-compat self-test: ok, {len(ran)} checks in {took:.1f} s")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", type=Path, default=ROOT, help="the checkout to check (default: this one)")
    ap.add_argument("--only", action="append", help="check only this migration (e.g. movies/0003_search_movies_walk); the others are still applied")
    ap.add_argument("--self-test", action="store_true", help="prove the check: the extractor, then breaking and additive migrations in a temporary clone")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every statement found")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    try:
        return self_test() if a.self_test else check(a.repo.resolve(), a.only, a.verbose)
    except Fail as e:
        print(f"migration-compat: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
