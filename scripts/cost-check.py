#!/usr/bin/env python3
"""Check docs/costs.md against what terraform/ creates (python3 stdlib only).

Usage: cost-check.py --plan default=PLAN.json --plan dev=PLAN.json docs/costs.md

Each PLAN.json is `terraform show -json` of a plan of one profile (scripts/tf-moto.sh makes them
against moto: the defaults, and profiles/dev.tfvars). For each profile's table ("## Idle cost,
<profile> profile") it checks:
  - every line whose item carries a key in backticks, e.g. (`secrets`), has the quantity the plan
    creates (secrets = Secrets Manager secrets + RDS-managed master secrets; endpoint_azs =
    interface endpoints x their subnets; alarms_billed = alarms beyond CloudWatch's 10 free; ...);
  - each line's USD/month is quantity x USD/month each (to the cent);
  - the total is the sum of the lines;
  - the profile's budget, if the plan has one, does not alert at idle: 80% of the limit (the
    actual-cost alert) and 100% (the forecast alert) are both above the total.
Prints one line per check; exits 1 on any mismatch.
"""
import argparse
import json
import re
import sys

FREE_ALARMS = 10  # CloudWatch free tier: 10 standard alarm metrics
FREE_DASHBOARDS = 3  # CloudWatch free tier: 3 dashboards of up to 50 metrics
PROXY_VCPUS = {"db.t4g.micro": 2, "db.t4g.small": 2, "db.t4g.medium": 2, "db.t3.micro": 2, "db.t3.small": 2}
PRICED_BROKER = ("mq.t3.micro", "SINGLE_INSTANCE")
PRICED_DB_CLASS = "db.t4g.micro"


def resources(plan):
    """(type, after, after_unknown) of every resource the plan leaves in place or creates."""
    out = []
    for rc in plan.get("resource_changes", []):
        if rc.get("mode") != "managed":
            continue
        actions = rc["change"]["actions"]
        if actions == ["delete"]:
            continue
        out.append((rc["type"], rc["change"].get("after") or {}, rc["change"].get("after_unknown") or {}))
    return out


def list_len(after, unknown, key):
    v = after.get(key)
    if isinstance(v, list):
        return len(v)
    u = unknown.get(key)
    if isinstance(u, list):
        return len(u)
    raise SystemExit(f"cannot tell the length of {key} from the plan")


def endpoint_subnets(plan, after, unknown):
    """Subnets (one ENI, billed per AZ) of an interface endpoint: from the plan when known, else
    what the network module takes (the first endpoint_az_count of the private subnets)."""
    try:
        return list_len(after, unknown, "subnet_ids")
    except SystemExit:
        pass
    private = sum(1 for rc in plan.get("resource_changes", []) if rc["type"] == "aws_subnet" and ".private[" in rc["address"])
    az_count = plan.get("variables", {}).get("endpoint_az_count", {}).get("value", 2)
    return min(int(az_count), private)


def quantities(plan):
    rs = resources(plan)

    def of(t):
        return [(a, u) for typ, a, u in rs if typ == t]

    errors = []
    dbs = of("aws_db_instance")
    for a, _ in dbs:
        if a.get("instance_class") != PRICED_DB_CLASS:
            errors.append(f"the table prices {PRICED_DB_CLASS}, the plan has {a.get('instance_class')}")
    brokers = of("aws_mq_broker")
    for a, _ in brokers:
        if (a.get("host_instance_type"), a.get("deployment_mode")) != PRICED_BROKER:
            errors.append(f"the table prices {PRICED_BROKER}, the plan has {(a.get('host_instance_type'), a.get('deployment_mode'))}")
    proxies = of("aws_db_proxy")
    proxy_vcpus = 0
    if proxies:
        for a, _ in dbs:
            proxy_vcpus += max(2, PROXY_VCPUS.get(a.get("instance_class"), 0)) * len(proxies)
    functions = of("aws_lambda_function")
    inspector = any("LAMBDA" in (a.get("resource_types") or []) for a, _ in of("aws_inspector2_enabler"))
    alarms = len(of("aws_cloudwatch_metric_alarm"))
    budgets = [float(a["limit_amount"]) for a, _ in of("aws_budgets_budget") if a.get("limit_amount")]
    q = {
        "db_instances": len(dbs),
        "db_storage_gb": sum(a.get("allocated_storage") or 0 for a, _ in dbs),
        "db_proxy_vcpus": proxy_vcpus,
        "brokers": len(brokers),
        "endpoint_azs": sum(endpoint_subnets(plan, a, u) for a, u in of("aws_vpc_endpoint") if a.get("vpc_endpoint_type") == "Interface"),
        "secrets": len(of("aws_secretsmanager_secret")) + sum(1 for a, _ in dbs if a.get("manage_master_user_password")),
        "kms_keys": len(of("aws_kms_key")),
        "alarms_billed": max(0, alarms - FREE_ALARMS),
        "dashboards_billed": max(0, len(of("aws_cloudwatch_dashboard")) - FREE_DASHBOARDS),
        # The machine client is created by the AWS CLI (terraform_data machine_client, with the
        # scopes in its input), so that its secret stays out of the state.
        "m2m_clients": sum(1 for a, _ in of("aws_cognito_user_pool_client") if "client_credentials" in (a.get("allowed_oauth_flows") or []))
        + sum(1 for a, _ in of("terraform_data") if {"scopes", "minutes"} <= set(a.get("input") or {})),
        "inspector_functions": len(functions) if inspector else 0,
        # Not a count: on iff some instance has Enhanced Monitoring (checked as zero / non-zero).
        "enhanced_monitoring_gb": 1 if any((a.get("monitoring_interval") or 0) > 0 for a, _ in dbs) else 0,
        "functions": len(functions),
        "queues": len(of("aws_sqs_queue")),
        # Free: CodeDeploy bills on-premises instances only (https://aws.amazon.com/codedeploy/pricing/).
        "codedeploy_groups": len(of("aws_codedeploy_deployment_group")),
    }
    return q, budgets, errors, alarms


def tables(md):
    """profile -> list of (item, quantity, each, usd) and the stated total."""
    out = {}
    current = None
    for line in md.splitlines():
        m = re.match(r"^## Idle cost, (\w+) profile", line)
        if m:
            current = m.group(1)
            out[current] = {"lines": [], "total": None}
            continue
        if line.startswith("## "):
            current = None
            continue
        if current is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("item", "---") or set(cells[0]) <= set("- "):
            continue
        if cells[0] == "**total**":
            out[current]["total"] = float(cells[3].strip("*"))
            continue
        out[current]["lines"].append((cells[0], float(cells[1]), float(cells[2]), float(cells[3])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", action="append", required=True, help="profile=plan.json")
    ap.add_argument("costs_md")
    args = ap.parse_args()
    md = open(args.costs_md).read()
    tabs = tables(md)
    failures = 0

    def check(ok, msg):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + msg)
        if not ok:
            failures += 1

    for spec in args.plan:
        profile, path = spec.split("=", 1)
        plan = json.load(open(path))
        q, budgets, errors, alarms = quantities(plan)
        for e in errors:
            check(False, f"{profile}: {e}")
        t = tabs.get(profile)
        check(t is not None and t["total"] is not None, f"{profile}: docs/costs.md has a table with a total")
        if t is None or t["total"] is None:
            continue
        seen = set()
        for item, qty, each, usd in t["lines"]:
            check(abs(qty * each - usd) < 0.005 + 1e-9, f"{profile}: {item}: {qty:g} x {each:g} = {usd:.2f}")
            m = re.search(r"\(`(\w+)`\)", item)
            if not m:
                continue
            key = m.group(1)
            seen.add(key)
            if key not in q:
                check(False, f"{profile}: unknown key {key}")
                continue
            if key == "enhanced_monitoring_gb":
                check((qty > 0) == (q[key] > 0), f"{profile}: {key} is {'on' if q[key] else 'off'} in the plan and {qty:g} in the table")
            else:
                check(qty == q[key], f"{profile}: {key}: table {qty:g}, terraform {q[key]}")
        for key in q:
            check(key in seen, f"{profile}: the table has a line for {key}")
        total = round(sum(line[3] for line in t["lines"]), 2)
        check(abs(total - t["total"]) < 0.005, f"{profile}: total {t['total']:.2f} = sum of the lines {total:.2f}")
        print(f"     {profile}: {alarms} alarms, {q['functions']} functions, {q['secrets']} secrets, {q['endpoint_azs']} endpoint-AZs")
        for limit in budgets:
            check(0.8 * limit > t["total"], f"{profile}: budget {limit:g}: the 80% actual alert ({0.8 * limit:g}) stays above idle ({t['total']:.2f})")
    if failures:
        print(f"cost check: {failures} failure(s)", file=sys.stderr)
        return 1
    print("cost check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
