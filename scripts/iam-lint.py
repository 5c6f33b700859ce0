#!/usr/bin/env python3
"""Lint every IAM policy terraform/ creates with parliament and cloudsplaining.

Usage: iam-lint.py STATE.json [SUPPRESSIONS.json]

STATE.json is `terraform show -json` after an apply (scripts/tf-moto.sh runs this against moto).
Every policy document in it is rendered to a file under $IAM_LINT_OUT (default: a temporary
directory) and checked:
  - parliament (https://github.com/duo-labs/parliament): every document, identity, trust and
    resource policies alike (role inline policies, trust policies, the KMS key policy, the SNS
    topic policy, the VPC endpoint policies, queue policies, the web bucket's policy);
  - cloudsplaining scan-policy-file's checks (privilege escalation, data exfiltration, resource
    exposure, infrastructure modification, service wildcards): the identity policies (what a
    role may do; the others have principals and are out of its scope).
A finding fails the lint unless SUPPRESSIONS.json (default terraform/tests/iam-lint-suppressions.json)
lists it, each entry with its reason: {"tool", "policy" (regex on the policy's name), "finding"
(parliament issue or cloudsplaining category), optional "match" (regex on the detail, e.g. an
action), "reason"}. A suppression that matches nothing fails too, so the file cannot rot.
Installs parliament and cloudsplaining (pinned) with pip only when missing.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

PINS = {"parliament": "parliament==1.6.4", "cloudsplaining": "cloudsplaining==0.9.1"}

for module, pin in PINS.items():
    try:
        __import__(module)
    except ImportError:
        print(f"{module} not found: pip install {pin}")
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", pin])

import parliament  # noqa: E402
from cloudsplaining.command.scan_policy_file import scan_policy  # noqa: E402
from cloudsplaining.shared.exclusions import DEFAULT_EXCLUSIONS_CONFIG  # noqa: E402

# resource type -> (attribute, kind); kind "identity" also goes through cloudsplaining.
POLICY_ATTRS = {
    "aws_iam_role_policy": [("policy", "identity")],
    "aws_iam_policy": [("policy", "identity")],
    "aws_iam_role": [("assume_role_policy", "trust")],
    "aws_kms_key": [("policy", "resource")],
    "aws_sns_topic_policy": [("policy", "resource")],
    "aws_vpc_endpoint": [("policy", "resource")],
    "aws_sqs_queue_policy": [("policy", "resource")],
    "aws_secretsmanager_secret_policy": [("policy", "resource")],
    "aws_s3_bucket_policy": [("policy", "resource")],
    "aws_lambda_permission": [],
}


def walk(module):
    yield from module.get("resources", [])
    for child in module.get("child_modules", []):
        yield from walk(child)


def documents(state):
    root = state.get("values", {}).get("root_module", {})
    for r in walk(root):
        if r.get("mode") != "managed":
            continue
        for attr, kind in POLICY_ATTRS.get(r["type"], []):
            text = (r.get("values") or {}).get(attr)
            if not text:
                continue
            yield f"{r['address']}.{attr}", kind, json.loads(text)


def main():
    state_path = sys.argv[1]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    supp_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "terraform", "tests", "iam-lint-suppressions.json")
    suppressions = json.load(open(supp_path))["suppressions"]
    for s in suppressions:
        if not s.get("reason"):
            raise SystemExit(f"suppression without a reason in {supp_path}: {s}")
    used = [0] * len(suppressions)
    out = os.environ.get("IAM_LINT_OUT") or tempfile.mkdtemp(prefix="iam-lint.")
    os.makedirs(out, exist_ok=True)

    state = json.load(open(state_path))
    docs = list(documents(state))
    if not docs:
        raise SystemExit("no IAM policy found in the state")
    findings = []

    def suppressed(tool, name, finding, detail):
        for i, s in enumerate(suppressions):
            if s["tool"] == tool and re.search(s["policy"], name) and s["finding"] == finding and re.search(s.get("match", ""), detail):
                used[i] += 1
                return s["reason"]
        return None

    counts = {"identity": 0, "trust": 0, "resource": 0}
    for name, kind, doc in docs:
        counts[kind] += 1
        fname = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".json"
        with open(os.path.join(out, fname), "w") as f:
            json.dump(doc, f, indent=2)
        # parliament: grammar, unknown actions, resource/condition mismatches, ...
        policy = parliament.analyze_policy_string(json.dumps(doc), include_community_auditors=False)
        for finding in policy.findings:
            detail = json.dumps(finding.detail, default=str) + " " + json.dumps(finding.location, default=str)
            reason = suppressed("parliament", name, finding.issue, detail)
            if reason is None:
                findings.append(f"parliament {finding.issue} in {name}: {detail}")
        if kind != "identity":
            continue
        # cloudsplaining: the least-privilege risk categories of an identity policy.
        results = scan_policy(doc, DEFAULT_EXCLUSIONS_CONFIG)
        for category, value in results.items():
            if not isinstance(value, dict) or not value.get("findings"):
                continue
            for item in value["findings"]:
                detail = json.dumps(item, default=str)
                reason = suppressed("cloudsplaining", name, category, detail)
                if reason is None:
                    findings.append(f"cloudsplaining {category} in {name}: {detail}")

    for i, s in enumerate(suppressions):
        if used[i] == 0:
            findings.append(f"unused suppression (remove it): {s}")
        else:
            print(f"suppressed {used[i]}x: {s['tool']} {s['finding']} in /{s['policy']}/: {s['reason']}")
    print(f"IAM lint: {len(docs)} policies ({counts['identity']} identity, {counts['trust']} trust, {counts['resource']} resource) rendered to {out}")
    if findings:
        for f in findings:
            print("FAIL " + f)
        print(f"IAM lint: {len(findings)} finding(s)", file=sys.stderr)
        return 1
    print("IAM lint passed: parliament and cloudsplaining report nothing unsuppressed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
