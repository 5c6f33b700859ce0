#!/usr/bin/env python3
"""make verify: the deployed stack checks itself, through the AWS CLI and its public URL.

    scripts/verify.py            # the stack of `terraform -chdir=terraform output -json`
    scripts/verify.py --local    # make dev and moto on this machine (make test runs this)

Reads the real resources (the billing event source mapping, every RDS Proxy target, the broker,
the alarms), checks the web client's distribution when the stack has one (output web_url: the
page with its Content-Security-Policy, config.json naming the user client and its managed login,
the API behind /api/*), then exercises the public path: no token and a forged token are 401; a machine
token (client credentials) lists the movies, adds one and deletes it, places an order with an
Idempotency-Key, places it again (the same order), and reads it back once the consumer stored
it (within 60 s). Prints each check; exits 1 naming every check that failed and its likely
cause (docs/runbook.md, "make verify"). The order stays: billing records are append-only (no
role may delete one); it carries user_id 999999999999999 and an Idempotency-Key "make-verify-...".

What a local stack cannot answer is skipped there, and says so.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# How long the order may take to be stored (VERIFY_ORDER_WAIT_SECS: make test's failure check).
ORDER_WAIT_SECS = int(os.environ.get("VERIFY_ORDER_WAIT_SECS", "60"))
# The user_id of the orders make verify places: the largest the API takes, so no real user has it.
VERIFY_USER_ID = "999999999999999"

# A failed check's likely cause, by what "<check>: <detail>" contains, first match wins. The
# mapping's codes and wording: https://docs.aws.amazon.com/lambda/latest/dg/services-mq-errors.html
CAUSES = [
    ("EVENT_SOURCE_AUTHN_ERROR", "the broker refuses the consumer's login: its BASIC_AUTH secret, or run setup again (broker users)"),
    ("EVENT_SOURCE_AUTHZ_ERROR", "the consumer user lacks a permission on the queue, or the mapping's role one on the secret: run setup again, check the role"),
    ("is Disabled", "the mapping is off: aws lambda update-event-source-mapping --uuid <UUID> --enabled (locally make billing-resume)"),
    ("ESM_CONFIG_NOT_VALID", "the mapping's configuration (queue, virtual host, source access configurations)"),
    ("FUNCTION_CONFIG_NOT_VALID", "billing-consumer's configuration (its alias, role or VPC)"),
    ("Connection error", "the mapping's pollers, in the broker's subnets, cannot reach Lambda, STS or Secrets Manager: the lambda, sts and secretsmanager interface endpoints (interface_endpoints) and their security group, or a NAT"),
    ("ACCESS_REFUSED", "the broker refuses the consumer user: run setup again (broker users and permissions)"),
    ("PROBLEM", "the mapping's pollers fail: its LastProcessingResult above, then billing-consumer's logs"),
    ("REGISTERING", "RDS Proxy is still registering its target: wait a few minutes and run make verify again"),
    ("UNAVAILABLE", "RDS Proxy cannot log in to the database: its secrets (Secrets Manager) or the database's security group"),
    ("answered 503", "with create_cdn, CloudFront's viewer-request function has no origin-verify key to add: terraform apply -replace='module.cdn[0].terraform_data.origin_verify_key' (AWS CLI v2), then the function's logs"),
    ("no token:", "the JWT authorizer is not attached to every route"),
    ("forged token:", "the JWT authorizer accepts a token it cannot verify: its issuer and audience (terraform/modules/api)"),
    ("get-secret-value", "the machine client's secret is empty or unreadable: the apply's AWS CLI step (terraform apply -replace='module.auth.terraform_data.machine_client[0]'), or the caller's secretsmanager:GetSecretValue on machine_client_secret_arn"),
    ("machine token:", "the Cognito domain or the machine client (client credentials, its scopes)"),
    ("never stored", "the consumer did not store the order: the mapping (below), billing-consumer's logs, the DLQ"),
    ("web page:", "the web distribution or its bucket: web/dist built (make web) before terraform apply, the bucket policy's AWS:SourceArn, the origin access control; a new distribution takes minutes to deploy"),
    ("web config.json:", "config.json is written by terraform apply from the user client and the pool's domain (terraform/modules/web), and CloudFront never caches it: apply again"),
    ("web /api:", "the web distribution's /api/* behavior or its origin, the HTTP API (terraform/modules/web)"),
    ("ALARM", "an alarm is firing: the dashboard (terraform output dashboard_url)"),
    ("log group", "the apply's AWS CLI step did not run or failed: terraform apply -replace=module.broker.terraform_data.general_log_group"),
]


class Check:
    def __init__(self):
        self.results = []

    def ok(self, name, detail=""):
        self.results.append(("ok", name, detail))
        print(f"  ok    {name}{': ' + detail if detail else ''}")

    def fail(self, name, detail):
        self.results.append(("FAIL", name, detail))
        print(f"  FAIL  {name}: {detail}")

    def warn(self, name, detail):
        self.results.append(("warn", name, detail))
        print(f"  warn  {name}: {detail}")

    def skip(self, name, why):
        self.results.append(("skip", name, why))
        print(f"  skip  {name}: {why}")

    def failed(self):
        return [r for r in self.results if r[0] == "FAIL"]


def cause_of(name, detail):
    text = f"{name}: {detail}"
    for needle, cause in CAUSES:
        if needle in text:
            return cause
    return "see the message"


class Target:
    """Where the stack is, and how to reach its APIs."""

    def __init__(self, local):
        self.local = local
        if local:
            env = {**read_env(ROOT / ".local/env"), **read_env(ROOT / ".local/cognito.env")}
            port = os.environ.get("LOCAL_GATEWAY_PORT", "3000")
            self.api_url = f"http://127.0.0.1:{port}"
            self.region = env.get("AWS_REGION", "us-east-1")
            self.consumer = "billing-consumer"
            # The local gateway answers the Lambda API; moto has no RDS Proxy or Amazon MQ broker.
            self.lambda_endpoint = self.api_url
            self.proxy_name = None
            self.broker_id = None
            self.machine = bool(env.get("COGNITO_MACHINE_CLIENT_ID"))
            # The pinned AWS CLI make tools installs (scripts/tools.sh aws prints its path).
            self.cli = subprocess.run([str(ROOT / "scripts/tools.sh"), "aws"], check=True,
                                      capture_output=True, text=True).stdout.strip()
            self.aws_env = {
                "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "local"),
                "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "local"),
                "AWS_REGION": self.region,
            }
        else:
            out = json.loads(
                subprocess.run(
                    ["terraform", f"-chdir={ROOT / 'terraform'}", "output", "-json"],
                    check=True, capture_output=True, text=True,
                ).stdout
            )

            def value(key):
                return (out.get(key) or {}).get("value")

            self.api_url = value("api_url").rstrip("/")
            self.region = value("region")
            self.consumer = value("billing_consumer_arn")
            self.lambda_endpoint = None
            self.proxy_name = value("db_proxy_name")
            self.broker_id = value("broker_id")
            self.alarm_names = value("alarm_names") or []
            self.broker_log_group = value("broker_log_group")  # name, retention, key
            self.cli = shutil.which("aws") or sys.exit("make verify needs the AWS CLI (aws) on PATH")
            self.token_endpoint = value("token_endpoint")
            # The web client's distribution (null without create_web) and what its config.json
            # must name: the user client and the managed login's origin (the token endpoint's).
            self.web_url = value("web_url")
            self.user_client_id = value("user_client_id")
            # The machine client's id and secret live only in its secret (not in the state nor
            # an output): read when the first token is asked for.
            self.machine_secret_arn = value("machine_client_secret_arn")
            self.machine = bool(self.machine_secret_arn)
            self.aws_env = {}

    def aws(self, service, *args, endpoint=None):
        cmd = [self.cli, service, *args, "--region", self.region, "--output", "json"]
        if endpoint:
            cmd += ["--endpoint-url", endpoint]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True,
                                 env={**os.environ, **self.aws_env}, timeout=60)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"aws {service} {args[0]}: no answer within 60 s") from e
        if run.returncode != 0:
            raise RuntimeError(f"aws {service} {args[0]}: {run.stderr.strip()}")
        return json.loads(run.stdout or "{}")

    def machine_token(self, scopes):
        if self.local:
            # moto has no OAuth2 token endpoint: localaws mints what Cognito's would return.
            run = subprocess.run(
                [str(ROOT / "target/release/localaws"), "machine-token", *scopes],
                capture_output=True, text=True, env={**os.environ, **self.aws_env}, timeout=60,
            )
            if run.returncode != 0:
                raise RuntimeError(f"token endpoint (localaws machine-token): {run.stderr.strip()}")
            return run.stdout.strip()
        body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": " ".join(
            f"crud-master/{s}" for s in scopes)}).encode()
        client = json.loads(self.aws("secretsmanager", "get-secret-value", "--secret-id",
                                     self.machine_secret_arn)["SecretString"])
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
        req = urllib.request.Request(self.token_endpoint, data=body, headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())["access_token"]
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"token endpoint answered {e.code}: {e.read()[:200]!r}") from e


def read_env(path):
    env = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.removeprefix("export ").strip()
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v.strip("'\"")
    return env


def call(target, method, path, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if data else {}
    if token:
        h["Authorization"] = f"Bearer {token}"
    h.update(headers or {})
    req = urllib.request.Request(target.api_url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def check_mapping(t, c, order_stored):
    """After the order: a PROBLEM that a stored order contradicts is an old one (the result
    stays until a batch succeeds), so then a warning."""
    try:
        mappings = t.aws("lambda", "list-event-source-mappings", "--function-name", t.consumer,
                         endpoint=t.lambda_endpoint)["EventSourceMappings"]
    except RuntimeError as e:
        c.fail("event source mapping", str(e))
        return
    if not mappings:
        c.fail("event source mapping", f"none for {t.consumer}")
    for m in mappings:
        state = m.get("State")
        result = m.get("LastProcessingResult", "")
        reason = m.get("StateTransitionReason", "")
        if state != "Enabled":
            c.fail("event source mapping", f"{m['UUID']} is {state} ({reason})")
        elif "PROBLEM" in result or any(k in reason for k in ("PROBLEM", "ERROR", "NOT_VALID")):
            detail = f"{m['UUID']}: {result} ({reason})"
            if order_stored:
                c.warn("event source mapping", f"{detail}, but the order above was stored")
            else:
                c.fail("event source mapping", detail)
        else:
            c.ok("event source mapping", f"{m['UUID']} Enabled, last result {result or 'none'}")


def check_resources(t, c):
    if t.local:
        c.skip("RDS Proxy targets", "local: no RDS Proxy (the functions reach PostgreSQL directly)")
        c.skip("broker", "local: RabbitMQ runs as a process here, not as an Amazon MQ broker")
    else:
        if not t.proxy_name:
            c.skip("RDS Proxy targets", "this profile has no RDS Proxy (create_db_proxy = false)")
        else:
            try:
                targets = t.aws("rds", "describe-db-proxy-targets", "--db-proxy-name",
                                t.proxy_name)["Targets"]
                bad = [f"{x.get('RdsResourceId')} {x.get('TargetHealth', {}).get('State')} "
                       f"{x.get('TargetHealth', {}).get('Reason', '')}".strip()
                       for x in targets if x.get("TargetHealth", {}).get("State") != "AVAILABLE"]
                if not targets:
                    c.fail("RDS Proxy targets", "the proxy has no target")
                elif bad:
                    c.fail("RDS Proxy targets", "; ".join(bad))
                else:
                    c.ok("RDS Proxy targets", f"{len(targets)} AVAILABLE")
            except RuntimeError as e:
                c.fail("RDS Proxy targets", str(e))
        try:
            state = t.aws("mq", "describe-broker", "--broker-id", t.broker_id)["BrokerState"]
            (c.ok if state == "RUNNING" else c.fail)("broker", state)
        except RuntimeError as e:
            c.fail("broker", str(e))
        try:
            want = t.broker_log_group
            groups = t.aws("logs", "describe-log-groups", "--log-group-name-prefix",
                           want["name"])["logGroups"]
            group = next((g for g in groups if g["logGroupName"] == want["name"]), None)
            if group is None:
                c.fail("broker log group", f"{want['name']} does not exist (log group)")
            elif (group.get("retentionInDays") != want["retention_in_days"]
                  or group.get("kmsKeyId") != want["kms_key_arn"]):
                c.fail("broker log group", f"{want['name']}: retention "
                       f"{group.get('retentionInDays')} (want {want['retention_in_days']}), key "
                       f"{group.get('kmsKeyId')} (want the stack's) (log group)")
            else:
                c.ok("broker log group", f"{group['retentionInDays']} days, the stack's key")
        except RuntimeError as e:
            c.fail("broker log group", str(e))
    check_alarms(t, c)


def check_alarms(t, c):
    if t.local:
        # The gateway evaluates the same alarm definitions Terraform renders (the dashboard's).
        status, snap = call(t, "GET", "/_local/metrics?range=900")
        alarms = [(a["name"], a["state"]) for a in (snap or {}).get("alarms", [])] if status == 200 else None
    else:
        try:
            found = t.aws("cloudwatch", "describe-alarms", "--alarm-names", *t.alarm_names)
            alarms = [(a["AlarmName"], a["StateValue"]) for a in found.get("MetricAlarms", [])]
        except RuntimeError as e:
            c.fail("alarms", str(e))
            return
    if alarms is None:
        c.fail("alarms", f"the local gateway answered {status} to /_local/metrics")
        return
    firing = [n for n, s in alarms if s == "ALARM"]
    if firing:
        c.fail("alarms", f"in ALARM: {', '.join(firing)}")
    else:
        c.ok("alarms", f"{len(alarms)} defined, none in ALARM")


def fetch(url):
    """GET url: (status, headers, body bytes), or (None, {}, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="GET"), timeout=30) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()
    except (urllib.error.URLError, OSError) as e:
        return None, {}, str(getattr(e, "reason", e)).encode()


def check_web(t, c):
    """The web client through its distribution: the page, config.json, and /api behind it."""
    if t.local:
        c.skip("web client", "local: the gateway serves it at / (make test's browser check)")
        return
    if not t.web_url:
        c.skip("web client", "this stack has no web distribution (create_web = false)")
        return
    authority = t.token_endpoint.removesuffix("/oauth2/token")
    status, headers, body = fetch(t.web_url)
    ctype, csp = headers.get("Content-Type", ""), headers.get("Content-Security-Policy")
    if status != 200 or not ctype.startswith("text/html"):
        c.fail("web page", f"GET {t.web_url} answered {status} {ctype or body[:120]!r} (want 200 text/html)")
    elif not csp:
        c.fail("web page", f"GET {t.web_url}: no Content-Security-Policy header (the response headers policy)")
    elif authority not in csp:
        c.fail("web page", f"GET {t.web_url}: the Content-Security-Policy does not name {authority} (connect-src): {csp}")
    else:
        c.ok("web page", f"{t.web_url}: 200 text/html with its Content-Security-Policy")
    url = t.web_url + "config.json"
    status, _, body = fetch(url)
    try:
        config = json.loads(body) if status == 200 else None
    except ValueError:
        config = None
    if not isinstance(config, dict):
        c.fail("web config.json", f"GET {url} answered {status}: {body[:200]!r}")
    elif config.get("clientId") != t.user_client_id or config.get("authority") != authority:
        c.fail("web config.json", f"clientId {config.get('clientId')} authority {config.get('authority')}, "
               f"want {t.user_client_id} and {authority}")
    else:
        c.ok("web config.json", f"the user client {t.user_client_id} at {authority}")
    url = t.web_url + "api/movies"
    status, _, body = fetch(url)
    (c.ok if status == 401 else c.fail)("web /api", f"GET {url} without a token answered {status} (want 401 from the API)")


def forged(token):
    """The same header and claims, signed by no one (a signature of random bytes)."""
    head, payload, _ = token.split(".")
    return f"{head}.{payload}.{base64.urlsafe_b64encode(os.urandom(256)).decode().rstrip('=')}"


def check_public_path(t, c):
    """The public path; True when verify's order was stored."""
    status, _ = call(t, "GET", "/api/movies")
    (c.ok if status == 401 else c.fail)("no token", f"GET /api/movies answered {status} (want 401)")
    if not t.machine:
        c.skip("machine token", "this profile has no machine client (create_machine_client = false)")
        return False
    try:
        token = t.machine_token(["movies.read", "movies.write", "billing.write", "billing.read"])
    except RuntimeError as e:
        c.fail("machine token", str(e))
        return False
    c.ok("machine token", "client credentials")
    status, _ = call(t, "GET", "/api/movies", token=forged(token))
    (c.ok if status == 401 else c.fail)("forged token", f"GET /api/movies answered {status} (want 401)")
    status, page = call(t, "GET", "/api/movies?limit=1", token=token)
    (c.ok if status == 200 else c.fail)("list movies", f"GET /api/movies answered {status}")
    status, movie = call(t, "POST", "/api/movies", token=token,
                         body={"title": f"make-verify {uuid.uuid4()}", "description": "deleted at once"})
    if status in (200, 201) and isinstance(movie, dict) and "id" in movie:
        gone, _ = call(t, "DELETE", f"/api/movies/{movie['id']}", token=token)
        (c.ok if gone in (200, 204) else c.fail)(
            "add and delete a movie", f"POST {status}, DELETE {gone}")
    else:
        c.fail("add and delete a movie", f"POST /api/movies answered {status}: {movie}")
    key = f"make-verify-{uuid.uuid4()}"
    order = {"user_id": VERIFY_USER_ID, "number_of_items": "1", "total_amount": "1"}
    first, placed = call(t, "POST", "/api/billing", token=token, body=order,
                         headers={"Idempotency-Key": key})
    again, replayed = call(t, "POST", "/api/billing", token=token, body=order,
                           headers={"Idempotency-Key": key})
    if first != 200 or again != 200:
        c.fail("place an order", f"POST /api/billing answered {first}, then {again}: {placed}")
        return False
    message_id = (placed or {}).get("message_id") if isinstance(placed, dict) else None
    if not message_id:
        c.fail("place an order", f"POST /api/billing answered 200 without a message_id: {placed}")
        return False
    same = replayed.get("message_id") == message_id
    # One message_id for one key: the order is stored once (the consumer stores by message_id).
    (c.ok if same else c.fail)("place an order twice with one Idempotency-Key",
                               f"one message_id {message_id}" if same else f"{message_id} then {replayed}")
    started = time.monotonic()
    while time.monotonic() - started < ORDER_WAIT_SECS:
        status, stored = call(t, "GET", f"/api/billing/orders/{message_id}", token=token)
        if status == 200:
            c.ok("order stored", f"after {time.monotonic() - started:.1f} s")
            return True
        if status != 404:
            c.fail("order stored", f"GET /api/billing/orders/{message_id} answered {status}: {stored}")
            return False
        time.sleep(1)
    c.fail("order stored", f"never stored within {ORDER_WAIT_SECS} s (still 404)")
    return False

def main():
    local = "--local" in sys.argv[1:]
    t = Target(local)
    print(f"make verify: {t.api_url} ({'local: make dev and moto' if local else 'AWS ' + t.region})")
    c = Check()
    stored = check_public_path(t, c)
    check_web(t, c)
    check_mapping(t, c, stored)
    check_resources(t, c)
    failed = c.failed()
    counts = {s: sum(1 for r in c.results if r[0] == s) for s in ("ok", "warn", "skip", "FAIL")}
    print(f"make verify: {counts['ok']} ok, {counts['warn']} warnings, {counts['skip']} skipped, "
          f"{counts['FAIL']} failed")
    for _, name, detail in failed:
        print(f"  {name}: likely cause: {cause_of(name, detail)}", file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
