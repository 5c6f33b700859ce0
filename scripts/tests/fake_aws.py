#!/usr/bin/env python3
"""A stand-in for the AWS CLI (and for `terraform output -json`) that plays back a scenario.

test_rollout.py installs it as `aws` and `terraform` on PATH (FAKE_PROG says which). Each call is appended to
$FAKE_AWS_LOG as one JSON line: {"cmd": "lambda get-alias", "args": {"--function-name": ...}}
(flags without a value, such as --auto-rollback-enabled, map to true; several values to a list). The answer comes from
$FAKE_AWS_SCENARIO:

    {"outputs": {... terraform output -json ...},
     "rules": [{"cmd": "deploy get-deployment", "match": {"--deployment-id": "d-1"},
                "after": "deploy stop-deployment",            # optional: only once that call was made
                "answers": [{"json": {...}}, {"error": "An error occurred (...)", "rc": 254}]}]}

The first rule whose cmd, match and after fit answers; its answers are played in order and the
last one repeats (the count per rule is kept in $FAKE_AWS_LOG.state). A call no rule fits fails
with exit 255 and says so, so a test cannot pass on a call it did not expect.
"""
import json
import os
import sys
from pathlib import Path


def parse(argv):
    """--key value -> "value", --key v1 v2 -> ["v1", "v2"], --flag -> True."""
    args, key = {}, None
    for a in argv:
        if a.startswith("--"):
            key = a
            args[key] = True
        elif key is not None:
            v = args[key]
            args[key] = a if v is True else (v + [a] if isinstance(v, list) else [v, a])
    return args


def main():
    prog = os.environ.get("FAKE_PROG", "aws")
    scenario = json.loads(Path(os.environ["FAKE_AWS_SCENARIO"]).read_text())
    if prog == "terraform":
        if "output" in sys.argv[1:]:
            print(json.dumps(scenario["outputs"]))
            return 0
        print(f"fake terraform: unexpected {sys.argv[1:]}", file=sys.stderr)
        return 1
    log = Path(os.environ["FAKE_AWS_LOG"])
    state_path = Path(str(log) + ".state")
    cmd = " ".join(sys.argv[1:3])
    args = parse(sys.argv[3:])
    args.pop("--region", None)
    args.pop("--output", None)
    made = [json.loads(line)["cmd"] for line in log.read_text().splitlines()] if log.exists() else []
    with log.open("a") as f:
        f.write(json.dumps({"cmd": cmd, "args": args}) + "\n")
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    for i, rule in enumerate(scenario["rules"]):
        if rule["cmd"] != cmd:
            continue
        if any(args.get(k) != v for k, v in (rule.get("match") or {}).items()):
            continue
        if rule.get("after") and rule["after"] not in made:
            continue
        n = state.get(str(i), 0)
        state[str(i)] = n + 1
        state_path.write_text(json.dumps(state))
        answer = rule["answers"][min(n, len(rule["answers"]) - 1)]
        if "error" in answer:
            print(answer["error"], file=sys.stderr)
            return answer.get("rc", 254)
        print(json.dumps(answer.get("json", {})))
        return 0
    print(f"fake aws: no answer for {cmd} {args}", file=sys.stderr)
    return 255


if __name__ == "__main__":
    sys.exit(main())
