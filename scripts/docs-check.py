#!/usr/bin/env python3
"""The documentation cannot drift from the source: run by `make test` (python3, stdlib only).

1. docs/configuration.md is generated from terraform/variables.tf, the functions' environment
   (what terraform/main.tf sets, what functions/ reads, the defaults in the code) and the local
   knobs of local/gateway.yaml; the committed file must equal the generated one.
   `python3 scripts/docs-check.py --write` regenerates it.
2. Every figure that can be derived from the source (reservations, secrets, interface endpoints,
   alarms, rollout alarms, API throttle, batch cap, timeouts, RDS Proxy timeouts) is derived here,
   and every place in README.md or docs/*.md that states it must state the derived value; each is
   stated somewhere.
3. Every alarm of terraform/modules/observability/monitoring.json has a row in docs/runbook.md and
   the runbook names no alarm that does not exist.
4. README.md stays a signpost: at most 450 lines and 5,000 words.
5. No history, tracker numbers or phantom documents in the pages (phrases listed in STALE), and
   no citation of a document's section where that document is not in the repository.
6. Every relative link of README.md and docs/*.md points at a file that exists, and every
   #anchor at a heading of that file.
"""

import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TF = ROOT / "terraform"
CONFIG_MD = ROOT / "docs" / "configuration.md"
FAILURES = []


def fail(msg):
    FAILURES.append(msg)


def read(rel):
    return (ROOT / rel).read_text()


# ---------------------------------------------------------------- HCL, just enough of it
def block_after(text, start):
    """The text from `start` (an opening brace or bracket) to its matching close, inclusive."""
    pairs = {"{": "}", "[": "]", "(": ")"}
    stack, i, in_str = [], start, False
    while i < len(text):
        c = text[i]
        if in_str:
            if c == "\\":
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "#":
            i = text.index("\n", i) - 1
        elif c in pairs:
            stack.append(pairs[c])
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return text[start : i + 1]
        i += 1
    raise ValueError("unbalanced block")


def attr_expr(body, name):
    """The expression of attribute `name` at the top level of a block body (one line, or the
    balanced block it opens)."""
    m = re.search(rf"^\s*{name}\s*=\s*", body, re.M)
    if not m:
        return None
    rest = body[m.end() :]
    line = rest.split("\n", 1)[0]
    opens = line.count("{") + line.count("[") + line.count("(")
    closes = line.count("}") + line.count("]") + line.count(")")
    if opens > closes:
        first = min(p for p in (line.find("{"), line.find("["), line.find("(")) if p >= 0)
        return line[:first] + block_after(rest, first)
    return line.strip()


def hcl_string(expr):
    m = re.fullmatch(r'"((?:[^"\\]|\\.)*)"', expr.strip())
    return m.group(1).replace('\\"', '"') if m else None


def variables():
    text = (TF / "variables.tf").read_text()
    out = []
    for m in re.finditer(r'^variable "([^"]+)" \{', text, re.M):
        body = block_after(text, m.end() - 1)
        out.append(
            {
                "name": m.group(1),
                "description": hcl_string(attr_expr(body, "description") or '""') or "",
                "type": attr_expr(body, "type") or "",
                "default": attr_expr(body, "default"),
                "body": body,
            }
        )
    return out


def var(name):
    for v in variables():
        if v["name"] == name:
            return v
    raise KeyError(name)


def functions_default():
    """{function: {memory_size, timeout, reserved_concurrency}} from var.functions' default."""
    out = {}
    for m in re.finditer(r'^\s*"?([a-z-]+)"?\s*=\s*\{([^}]*)\}', var("functions")["default"], re.M):
        out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(-?\d+)", m.group(2))}
    return out


def one_line(expr):
    return re.sub(r"\s+", " ", expr).replace("{ ", "{").replace(" }", "}")


# ---------------------------------------------------------------- the functions' environment
FUNCTIONS = ["inventory", "billing-api", "billing-consumer", "setup"]
CRATES = ["settings", "telemetry", "secrets", "database", "http-edge", "billing", "broker", "inventory", "billing-api", "billing-consumer", "setup"]

# What each variable means. The generator fails on a variable that Terraform sets or the code
# reads and that has no line here, and on a line here that nothing sets or reads.
MEANING = {
    "DATABASE_HOST": "the database host (RDS Proxy endpoint on AWS)",
    "DATABASE_PORT": "the database port",
    "DATABASE_NAME": "the database: `movies` (inventory) or `orders` (billing)",
    "DATABASE_SECRET_ARN": "secret `{\"username\",\"password\"}` of the function's role; else `DATABASE_USER` / `DATABASE_PASSWORD`",
    "DATABASE_USER": "the role, without a secret (local)",
    "DATABASE_PASSWORD": "password of `DATABASE_USER` (local)",
    "DATABASE_TLS": "`require` (the default unless the host is loopback) or `disable`",
    "DATABASE_CA_FILE": "PEM bundle to trust instead of the public roots (only without RDS Proxy)",
    "DATABASE_POOL_SIZE": "connections per execution environment",
    "DATABASE_CONNECT_TIMEOUT_MS": "connect budget",
    "DATABASE_QUERY_TIMEOUT_MS": "per-query budget",
    "DATABASE_MASTER_SECRET_ARN": "the RDS-managed master secret (setup only)",
    "DATABASE_MASTER_USER": "the master role, without a secret (local)",
    "DATABASE_MASTER_PASSWORD": "password of `DATABASE_MASTER_USER` (local)",
    "MOVIES_DB": "name of the movies database setup creates (a second local stack, such as the README check's, names its own)",
    "ORDERS_DB": "name of the orders database setup creates",
    "MOVIES_DB_SECRET_ARN": "secret of the `movies_app` role setup creates",
    "ORDERS_DB_SECRET_ARN": "secret of the `orders_app` role setup creates",
    "MOVIES_DB_USER": "`movies_app` without a secret (local)",
    "MOVIES_DB_PASSWORD": "password of `MOVIES_DB_USER` (local)",
    "ORDERS_DB_USER": "`orders_app` without a secret (local)",
    "ORDERS_DB_PASSWORD": "password of `ORDERS_DB_USER` (local)",
    "ORDERS_READER_SECRET_ARN": "secret of the `orders_reader` role setup creates (billing-api's, `SELECT` only)",
    "ORDERS_READER_USER": "`orders_reader` without a secret (local)",
    "ORDERS_READER_PASSWORD": "password of `ORDERS_READER_USER` (local)",
    "AMQP_URL": "full AMQP URL (local); else `AMQP_ENDPOINT` with `AMQP_SECRET_ARN` or `AMQP_USER` / `AMQP_PASSWORD`",
    "AMQP_ENDPOINT": "`amqps://host:5671` of the broker",
    "AMQP_SECRET_ARN": "broker credentials: billing-api the publish-only user, setup the administrator",
    "AMQP_USER": "broker user without a secret (local)",
    "AMQP_PASSWORD": "password of `AMQP_USER` (local)",
    "AMQP_VHOST": "virtual host (default `/`)",
    "AMQP_CA_FILE": "PEM bundle for the broker's TLS instead of the compiled-in Amazon Trust Services roots",
    "AMQP_DECLARE_TOPOLOGY": "billing-api declares the queue itself (default false: setup declares it; the publish-only user may not)",
    "PUBLISH_TIMEOUT_MS": "publisher-confirm budget (default 5000), then 503",
    "BILLING_QUEUE": "the work queue (default `billing_queue`)",
    "DLQ_URL": "SQS dead-letter queue URL (required)",
    "ADMIN_SCOPE": "the admin scope (`crud-master/movies.admin`); with `ADMIN_CLIENT_IDS`, both or neither",
    "ADMIN_CLIENT_IDS": "comma-separated client ids that may hold the admin scope (the machine client)",
    "RABBITMQ_MANAGEMENT_URL": "the RabbitMQ management API (the broker's console URL); setup creates the broker users through it",
    "BROKER_PUBLISHER_SECRET_ARN": "secret of `billing_publisher` (publish-only)",
    "BROKER_CONSUMER_SECRET_ARN": "secret of `billing_consumer` (consume-only, the mapping's user)",
    "BROKER_BOOTSTRAP_SECRET_ARN": "secret of the password the broker was created with; setup logs in with it once and sets the stored administrator password",
    "BROKER_BOOTSTRAP_USER": "bootstrap administrator without a secret (tests)",
    "BROKER_BOOTSTRAP_PASSWORD": "password of `BROKER_BOOTSTRAP_USER` (tests)",
    "BROKER_PUBLISHER_USER": "`billing_publisher` without a secret (local)",
    "BROKER_PUBLISHER_PASSWORD": "password of `BROKER_PUBLISHER_USER` (local)",
    "BROKER_CONSUMER_USER": "`billing_consumer` without a secret (local)",
    "BROKER_CONSUMER_PASSWORD": "password of `BROKER_CONSUMER_USER` (local)",
    "SETUP_CONNECT_BUDGET_SECS": "total time setup waits for PostgreSQL (or RDS Proxy), the broker and its management API",
    "ORIGIN_VERIFY_SECRET_ARN": "with the CDN: secret holding CloudFront's `X-Origin-Verify` value; requests without it get 403",
    "ORIGIN_VERIFY_SECRET": "the value itself, without a secret (tests)",
    "ORIGIN_VERIFY_SECRET_VERSION": "set, never read: a rotation changes it, so new execution environments start",
    "METRICS_NAMESPACE": "EMF namespace (`CrudMaster`)",
    "SERVICE_NAME": "EMF `Service` dimension (the function's name)",
    "RUST_LOG": "log filter (default `info`)",
    "AWS_LAMBDA_LOG_LEVEL": "set by Lambda from `application_log_level`; when set, the level over `RUST_LOG`'s",
    "AWS_ENDPOINT_URL": "locally, the AWS SDKs' endpoint (moto)",
    "AWS_REGION": "region of the AWS SDKs (set by Lambda)",
    "AWS_DEFAULT_REGION": "fallback region",
    "AWS_ACCESS_KEY_ID": "credentials of the execution role (set by Lambda)",
    "AWS_SECRET_ACCESS_KEY": "credentials of the execution role (set by Lambda)",
    "AWS_SESSION_TOKEN": "credentials of the execution role (set by Lambda)",
    "AWS_CA_BUNDLE": "extra CA bundle for the AWS SDKs (local)",
    "CRUD_PG_HOST": "local PostgreSQL host (`setup local`, from `.local/env`)",
    "CRUD_PG_PORT": "local PostgreSQL port (`setup local`)",
    "CRUD_PG_USER": "local PostgreSQL superuser (`setup local`)",
    "CRUD_PG_PASSWORD": "password of `CRUD_PG_USER` (`setup local`)",
    "CRUD_AMQP_ADMIN_USER": "local RabbitMQ administrator (`setup local`)",
    "CRUD_AMQP_ADMIN_PASSWORD": "password of `CRUD_AMQP_ADMIN_USER` (`setup local`)",
    "CRUD_AMQP_PUBLISHER_USER": "local publish-only user setup creates",
    "CRUD_AMQP_PUBLISHER_PASSWORD": "password of `CRUD_AMQP_PUBLISHER_USER` (`setup local`)",
    "CRUD_AMQP_CONSUMER_USER": "local consume-only user setup creates",
    "CRUD_AMQP_CONSUMER_PASSWORD": "password of `CRUD_AMQP_CONSUMER_USER` (`setup local`)",
    "CRUD_RABBIT_MGMT_URL": "local RabbitMQ management API (`setup local`)",
}
# Upper-case string literals in functions/ that are not environment variables.
# Quoted upper-case names that are not configuration: an AMQP reply code, the tests' log switch,
# a test variable, and Cargo's build-script output directory.
NOT_ENV = {"ACCESS_REFUSED", "TEST_LOG", "EMPTY", "OUT_DIR"}

LOCAL_MEANING = {
    "LOCAL_GATEWAY_PORT": "the gateway's port",
    "ESM_BATCH_SIZE": "the local mapping's batch size (at most 1000, as on AWS)",
    "ESM_BATCHING_WINDOW_MS": "the local mapping's batching window",
    "FUNCTION_LOG": "`RUST_LOG` of the local functions",
    "INVENTORY_CONCURRENCY": "local instances of inventory at most (its reserved concurrency)",
    "BILLING_API_CONCURRENCY": "local instances of billing-api at most",
    "LAMBDA_THROTTLE_WAIT_MS": "how long a request waits for a free instance before the 500 of a Lambda throttle (0: at once, as on AWS)",
    "FUNCTIONS_DIR": "where the bootstraps are",
    "FUNCTIONS_WATCH": "`make dev WATCH=1`: functions from debug builds, rebuilt on save",
    "WATCH_BUILD_BUDGET_SECS": "how long a request may wait for a rebuild",
    "WATCH_WORKSPACE": "the tree watch mode builds and watches",
    "CARGO_TARGET_DIR": "watch mode: cargo's target directory, relative to `WATCH_WORKSPACE` (the debug builds run from its `debug/`)",
    "OPENAPI": "the contract the gateway routes by",
    "WEB_DIST": "the built web client the gateway serves (make web builds web/dist)",
    "WEB_CSP": "the Content-Security-Policy file of the web client, shared with Terraform",
    "COGNITO_RESOURCE_SERVER": "resource server identifier of the scopes",
    "MOVIES_DB": "database of inventory",
    "ORDERS_DB": "database of billing",
    "MOVIES_DB_USER": "inventory's role",
    "MOVIES_DB_PASSWORD": "password of `MOVIES_DB_USER`",
    "ORDERS_DB_USER": "billing-consumer's role",
    "ORDERS_DB_PASSWORD": "password of `ORDERS_DB_USER`",
    "ORDERS_READER_USER": "billing-api's role (`SELECT` on orders only)",
    "ORDERS_READER_PASSWORD": "password of `ORDERS_READER_USER`",
    "FUNCTION_LAMBDA_LOG_LEVEL": "`AWS_LAMBDA_LOG_LEVEL` of the local functions (empty: unset)",
    "BILLING_QUEUE": "the work queue",
    "AWS_REGION": "moto's region",
}


def locals_env():
    """{local name: {VAR: literal or None}} for the *_env maps of terraform/main.tf."""
    text = (TF / "main.tf").read_text()
    out = {}
    for m in re.finditer(r"^  (\w+_env) = ", text, re.M):
        rest = text[m.end() :]
        line = rest.split("\n", 1)[0]
        first = min(p for p in (line.find("{"), line.find("(")) if p >= 0)
        out[m.group(1)] = env_keys(block_after(rest, first) + rest[len(block_after(rest, first)) :].split("\n", 1)[0])
    return out


def env_keys(expr):
    return {k: hcl_string(v) for k, v in re.findall(r"^\s*([A-Z][A-Z0-9_]+)\s*=\s*(.+?)\s*$", expr, re.M)} | {
        k: hcl_string(v) for k, v in re.findall(r"\{\s*([A-Z][A-Z0-9_]+)\s*=\s*([^}]+?)\s*\}", expr)
    }


def terraform_env():
    """{function: {VAR: literal or None}}: what Terraform sets on each function."""
    text = (TF / "main.tf").read_text()
    named = locals_env()
    start = text.index("function_config = {")
    config = block_after(text, text.index("{", start))
    out = {}
    for m in re.finditer(r'^    "?([a-z-]+)"? = \{', config, re.M):
        body = block_after(config, m.end() - 1)
        env_expr = attr_expr(body, "environment")
        env = {}
        for ref in re.findall(r"local\.(\w+_env)", env_expr):
            env |= named[ref]
        env |= env_keys(re.sub(r"local\.\w+_env,?", "", env_expr))
        out[m.group(1)] = env
    module = text[text.index('module "function" {') :]
    module = block_after(module, module.index("{"))
    common = env_keys(attr_expr(module, "environment"))
    for f in out:
        out[f] = out[f] | common
    return out


def code_env():
    """{VAR: (crates that name it, default in the code or None)}, from functions/*/src."""
    names, defaults = {}, {}
    for crate in CRATES:
        for p in sorted((ROOT / "functions" / crate / "src").rglob("*.rs")):
            if "tests" in p.parts or p.name == "tests.rs":
                continue
            src = p.read_text()
            # Unit tests at the end of a file are not configuration.
            src = src.split("#[cfg(test)]\nmod tests")[0]
            for n in re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', src):
                if n not in NOT_ENV:
                    names.setdefault(n, set()).add(crate)
            for n, d in re.findall(r'parse_or\(\s*"([A-Z_]+)",\s*([0-9_]+)\s*\)', src):
                defaults[n] = d.replace("_", "")
    return {n: (sorted(c, key=CRATES.index), defaults.get(n)) for n, c in names.items()}


def local_knobs():
    text = read("local/gateway.yaml")
    return dict(re.findall(r"\$\{([A-Z][A-Z0-9_]+):-([^}]*)\}", text))


def cell(s):
    return s.replace("|", "\\|")


def generate_configuration():
    tf = terraform_env()
    code = code_env()
    names = sorted(set(code) | {n for env in tf.values() for n in env})
    for n in names:
        if n not in MEANING:
            fail(f"scripts/docs-check.py: {n} is set by terraform/main.tf or read in functions/ but has no MEANING line")
    for n in MEANING:
        if n not in names:
            fail(f"scripts/docs-check.py: MEANING names {n}, which nothing sets or reads any more")
    out = [
        "# Configuration",
        "",
        "<!-- generated by scripts/docs-check.py --write from terraform/variables.tf, terraform/main.tf,",
        "     functions/*/src and local/gateway.yaml; make test fails when this file differs -->",
        "",
        "Every function reads its settings from the environment and stops at start naming the variable",
        "that is missing or invalid; secrets print as `[REDACTED]` (secrecy). Terraform sets the environment on AWS",
        "(`terraform/main.tf`), `local/gateway.yaml` locally.",
        "",
        "## The functions' environment",
        "",
        "\"set on AWS\" lists the functions Terraform gives the variable to, with its value where it is a",
        "constant; \"read by\" the crates under `functions/` that read it; \"default\" the code's default.",
        "",
        "| variable | set on AWS | read by | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for n in names:
        on = [f for f in FUNCTIONS if n in tf.get(f, {})]
        values = {tf[f][n] for f in on if tf[f][n] is not None}
        set_on = ", ".join(on) if on else "—"
        if len(values) == 1:
            set_on += f" (`{values.pop()}`)"
        crates, default = code.get(n, ([], None))
        out.append(
            f"| `{n}` | {set_on} | {', '.join(crates) or '—'} | {f'`{default}`' if default else ''} | {cell(MEANING.get(n, ''))} |"
        )
    out += [
        "",
        "## Local knobs (`make dev`)",
        "",
        "From `local/gateway.yaml` (`${VAR:-default}`); `scripts/services.sh` writes the services' ports",
        "and users to `.local/env`.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    knobs = local_knobs()
    for n, d in sorted(knobs.items()):
        if n == "VAR":
            continue
        if n not in LOCAL_MEANING:
            fail(f"scripts/docs-check.py: local/gateway.yaml's {n} has no LOCAL_MEANING line")
        out.append(f"| `{n}` | `{d}` | {cell(LOCAL_MEANING.get(n, ''))} |")
    out += [
        "",
        "## Terraform variables",
        "",
        "From `terraform/variables.tf`; `terraform/terraform.tfvars.example` is a complete set and",
        "`terraform/profiles/dev.tfvars` the cheapest private deployment.",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for v in variables():
        default = "required" if v["default"] is None else f"`{cell(one_line(v['default']))}`"
        out.append(f"| `{v['name']}` | `{cell(one_line(v['type']))}` | {default} | {cell(v['description'])} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- figures derived from the source
def derived_facts():
    fns = functions_default()
    reserved = [fns[f]["reserved_concurrency"] for f in FUNCTIONS]
    main = (TF / "main.tf").read_text()
    app_users = re.search(r"app_users = \{(.*?)\n  \}", main, re.S).group(1)
    broker_users = len(re.findall(r"^\s*\w+\s*=\s*\{ username", app_users, re.M))
    db_text = (TF / "modules/database/main.tf").read_text()
    db_vars = (TF / "modules/database/variables.tf").read_text()
    db_app = block_after(db_vars, db_vars.index("{", db_vars.index("default", db_vars.index('variable "app_users"'))))
    db_users = len(re.findall(r"^\s*\w+\s*=\s*\"", db_app, re.M))
    managed_master = 1 if "manage_master_user_password   = true" in db_text or re.search(r"manage_master_user_password\s*=\s*true", db_text) else 0
    broker_text = (TF / "modules/broker/main.tf").read_text()
    # The administrator's and the bootstrap password's (per-user secrets are counted above).
    broker_own = len(re.findall(r'resource "aws_secretsmanager_secret" "(?:this|bootstrap)"', broker_text))
    # The machine client's, with create_machine_client's default (true).
    machine = len(re.findall(r'resource "aws_secretsmanager_secret" "machine"', (TF / "modules/auth/main.tf").read_text()))
    secrets = broker_own + broker_users + db_users + managed_master + machine
    endpoints = len(json.loads(var("interface_endpoints")["default"]))
    alarms_def = json.loads((TF / "modules/observability/monitoring.json").read_text())["alarms"]
    sets = {"functions": len(FUNCTIONS), "app_functions": len(FUNCTIONS) - 1}
    alarms = sum(sets.get(a.get("each"), 1) for a in alarms_def.values())
    # The rollout alarms: per function of local.rollout_functions, one per "${k}-<metric>" entry.
    rollout_fns = re.findall(r'"([a-z-]+)"', re.search(r"rollout_functions = \[(.*?)\]", main).group(1))
    rollout_alarms = len(rollout_fns) * len(re.findall(r'"\$\{k\}-\w+" = \{', (TF / "modules/rollout/main.tf").read_text()))
    api = (TF / "modules/api/main.tf").read_text()
    integration_ms = int(re.search(r"timeoutInMillis\s*=\s*(\d+)", api).group(1))
    batch_cap = int(re.search(r"var\.billing_batch_size <= (\d+)", var("billing_batch_size")["body"]).group(1))
    crate_cap = int(re.search(r"pub const MAX_BILLING_BATCH: usize = (\d+);", read("functions/billing/src/lib.rs")).group(1))
    if batch_cap != crate_cap:
        fail(f"billing_batch_size's validation caps at {batch_cap}, billing::MAX_BILLING_BATCH is {crate_cap}")
    if fns["inventory"]["timeout"] != fns["billing-api"]["timeout"]:
        fail("the pages speak of one timeout of the HTTP functions: inventory's and billing-api's differ now")
    borrow = int(re.search(r"connection_borrow_timeout\s*=\s*(\d+)", db_text).group(1))
    idle = int(re.search(r"idle_client_timeout\s*=\s*(\d+)", db_text).group(1))
    # setup's timeout less a margin (terraform/main.tf: `functions["setup"].timeout - N`).
    margin = int(re.search(r'SETUP_CONNECT_BUDGET_SECS\s*=\s*tostring\(var\.functions\["setup"\]\.timeout - (\d+)\)', main).group(1))
    connect_budget = fns["setup"]["timeout"] - margin
    ms_per_message = int(re.search(r"var\.billing_batch_size \* (\d+) <=", main).group(1))
    bench_commit = re.search(r"commit ([0-9a-f]{7,})", read("bench/results.md")).group(1)
    return {
        # name: (value, [patterns whose every match must give the value])
        "current bench run": (bench_commit, [r"current run is `make bench` at commit ([0-9a-f]+)"]),
        "reservations": (sum(reserved), [r"(\d+) reserved executions", r"= (\d+) reserved"]),
        "reservation terms": (" + ".join(map(str, reserved)), [r"((?:\d+ \+ ){3}\d+) = \d+ reserved"]),
        "secrets": (secrets, [r"\b(\d+) secrets\b"]),
        "interface endpoints": (endpoints, [r"\b(\d+) interface endpoints"]),
        "alarms": (alarms, [r"\b(\d+) CloudWatch alarms"]),
        "rollout alarms": (rollout_alarms, [r"\b(\d+) rollout alarms"]),
        "API rate limit": (int(var("api_throttling_rate_limit")["default"]), [r"\b(\d+) req/s\b"]),
        "API burst limit": (int(var("api_throttling_burst_limit")["default"]), [r"\bburst (?:of )?(\d+)\b"]),
        "batch cap": (batch_cap, [r"batch cap (?:of )?([\d,]+)", r"`billing_batch_size`[^.|\n]*?1[–-]([\d,]+)"]),
        "default batch": (int(var("billing_batch_size")["default"]), [r"default batch (?:size )?(?:of )?([\d,]+)"]),
        "batch budget per message": (ms_per_message, [r"`billing_batch_size` × (\d+) ms"]),
        "integration timeout": (integration_ms // 1000, [r"integration timeout (?:is |of )?(\d+) s"]),
        "HTTP function timeout": (fns["inventory"]["timeout"], [r"HTTP functions time out (?:at|after) (\d+) s"]),
        "billing-consumer timeout": (fns["billing-consumer"]["timeout"], [r"billing-consumer(?:'s)? (?:\d+ s )?timeout (?:is |of )?(\d+) s", r"billing-consumer's (\d+) s timeout"]),
        "setup timeout": (fns["setup"]["timeout"], [r"setup(?:'s)? timeout (?:is |of )?(\d+) s", r"setup's (\d+) s timeout"]),
        "setup connect budget": (connect_budget, [r"`SETUP_CONNECT_BUDGET_SECS` \((\d+) s\)"]),
        "proxy borrow timeout": (borrow, [r"`connection_borrow_timeout` \((\d+) s\)"]),
        "proxy idle client timeout": (idle // 60, [r"idle client timeout (?:of )?(\d+) minutes"]),
    }


# docs/costs.md is the cost model's page, checked by its own table.
COSTS_MD = ROOT / "docs" / "costs.md"


def pages():
    out = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    return [p for p in out if p not in (CONFIG_MD, COSTS_MD)]


def hand_written(p):
    """The page without its generated parts (bench output) and without code blocks' prompts."""
    text = p.read_text()
    return re.sub(r"<!-- power tuning: generated.*?<!-- end of the generated power tuning -->", "", text, flags=re.S)


def check_facts():
    facts = derived_facts()
    seen = {k: 0 for k in facts}
    for p in pages():
        # One line per paragraph, so that a figure wrapped over two lines is still found.
        text = re.sub(r"\s+", " ", hand_written(p))
        for name, (value, patterns) in facts.items():
            for pat in patterns:
                for m in re.finditer(pat, text):
                    got = m.group(1).replace(",", "")
                    seen[name] += 1
                    if got != str(value).replace(",", ""):
                        fail(f"{p.relative_to(ROOT)}: {name} is {value} (from the source), the page says {m.group(0)!r}")
    for name, n in seen.items():
        if n == 0:
            fail(f"no page states the {name} ({facts[name][0]}): say it where it belongs, in the checked form")
    return facts


def check_runbook():
    runbook = ROOT / "docs" / "runbook.md"
    if not runbook.exists():
        fail("docs/runbook.md is missing")
        return
    alarms = json.loads((TF / "modules/observability/monitoring.json").read_text())["alarms"]
    names = {n.replace("$key", "<function>") for n in alarms}
    text = runbook.read_text()
    if "\n## Alarms\n" not in text:
        fail("docs/runbook.md has no '## Alarms' section")
        return
    table = text.split("\n## Alarms\n", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `([^`]+)`", table, re.M))
    for n in sorted(names - rows):
        fail(f"docs/runbook.md has no row for the alarm {n}")
    for n in sorted(rows - names - {"inspector-finding", "budget"}):
        fail(f"docs/runbook.md has a row for {n}, which is not an alarm of monitoring.json")


STALE = [
    (r"\b[Ii]ssues? \d+\b", "a tracker number"),
    (r"\bwas \d+ services\b", "history"),
    (r"\b42 reservations\b", "billing-consumer reserves 2"),
    (r"\b4 secrets\b", "there are more"),
    (r"\b503 after 30 s\b", "the integration timeout is 29 s and the HTTP functions time out first"),
    (r"TTL expires", "no message TTL is set"),
    (r"RDS Proxy multiplexes", "the prepared statements pin: one connection per environment"),
    (r"\bup to 10,000\b", "our batch cap is 1,000"),
    (r"Routers unchanged", "the functions are lambda_http adapters"),
]


def check_stale():
    for p in pages() + [ROOT / "local" / "README.md"]:
        text = hand_written(p)
        for pat, why in STALE:
            for m in re.finditer(pat, text):
                line = text[: m.start()].count("\n") + 1
                fail(f"{p.relative_to(ROOT)}:{line}: {m.group(0)!r}: {why}")
    # "<NAME> section N" names a document; it must be one the repository holds.
    held = {f.stem.upper() for f in ROOT.rglob("*.md") if ".git" not in f.parts and "target" not in f.parts}
    cited = re.compile(r"\b([A-Z][A-Z0-9_]{2,})(?:\.md)? section \d")
    files = [p for d in ["functions", "local", "tests", "bench/src", "scripts", "terraform"] for p in (ROOT / d).rglob("*")]
    for p in pages() + files:
        if p.is_file() and p.suffix in {".rs", ".sh", ".tf", ".yaml", ".md", ".py", ".toml"}:
            for m in cited.finditer(p.read_text(errors="replace")):
                if m.group(1) not in held:
                    fail(f"{p.relative_to(ROOT)}: cites {m.group(0)!r}, a document the repository does not hold")


def check_readme_size():
    text = (ROOT / "README.md").read_text()
    lines, words = text.count("\n"), len(text.split())
    if lines > 450:
        fail(f"README.md has {lines} lines (at most 450): move detail to docs/")
    if words > 5000:
        fail(f"README.md has {words} words (at most 5,000): move detail to docs/")
    return lines, words


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(p):
    text = re.sub(r"```.*?```", "", p.read_text(), flags=re.S)
    out, counts = set(), {}
    for h in re.findall(r"^#{1,6} (.+)$", text, re.M):
        s = slug(re.sub(r"`", "", h))
        n = counts.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")
        counts[s] = n + 1
    out |= set(re.findall(r'<a (?:id|name)="([^"]+)"', text))
    return out


def check_links():
    for p in pages() + [CONFIG_MD, COSTS_MD, ROOT / "local" / "README.md"]:
        if not p.exists():
            continue
        text = re.sub(r"```.*?```", "", p.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            dest = (p.parent / path).resolve() if path else p
            if not dest.exists():
                fail(f"{p.relative_to(ROOT)}: link to {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                fail(f"{p.relative_to(ROOT)}: link to {target}: no such heading")


def main():
    generated = generate_configuration()
    if "--write" in sys.argv:
        CONFIG_MD.write_text(generated)
        print(f"wrote {CONFIG_MD.relative_to(ROOT)}")
    elif not CONFIG_MD.exists() or CONFIG_MD.read_text() != generated:
        fail("docs/configuration.md differs from what terraform/ and functions/ say: run python3 scripts/docs-check.py --write and commit it")
    facts = check_facts()
    check_runbook()
    check_stale()
    lines, words = check_readme_size()
    check_links()
    if FAILURES:
        for f in FAILURES:
            print(f"docs-check: {f}", file=sys.stderr)
        sys.exit(1)
    print(
        f"docs-check: configuration.md current; {len(facts)} figures match the source "
        f"({facts['reservations'][0]} reserved executions, {facts['secrets'][0]} secrets, "
        f"{facts['interface endpoints'][0]} interface endpoints, {facts['alarms'][0]} alarms); "
        f"README {lines} lines, {words} words; links resolve"
    )


if __name__ == "__main__":
    main()
