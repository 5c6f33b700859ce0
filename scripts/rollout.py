#!/usr/bin/env python3
"""make rollout: after `terraform apply`, move each application function's live alias to the
version the apply published, gradually, then `make verify`; on any failure, every function back.

    scripts/rollout.py      # the stack of `terraform -chdir=terraform output -json` (output rollout)

For each function whose alias is not on the version the apply published, one CodeDeploy deployment
in the function's deployment group, with an AppSpec naming the function, its alias, the version the
alias is on and the one to shift to. CodeDeploy moves the alias's weights by the group's
configuration (10% for 5 minutes, then all, by default) and, when one of the function's rollout
alarms fires, stops and shifts the whole weight back. The deployments run side by side; this waits
for them, printing each change of status, then runs `make verify`.

All or nothing, because the functions are released together:
  - a deployment fails or is stopped (an alarm): the ones in progress are stopped with
    --auto-rollback-enabled and the ones that succeeded are put back with update-alias;
  - the wait runs out (ROLLOUT_TIMEOUT_SECS): every deployment in progress is stopped with rollback;
  - `make verify` fails: every alias moved is put back with update-alias.
Then every alias is read back. Exit 0: every function on its new version and make verify passed.
Exit 1: a failure, named, and every function on its previous version (or nothing was moved).
Exit 2: the rollback left a function off its previous version (named: docs/operations.md#rollback).

Without CodeDeploy (create_codedeploy = false) the aliases move all at once with update-alias and
come back the same way when make verify fails.

Env: ROLLOUT_TIMEOUT_SECS (1800: the deployments), ROLLOUT_ROLLBACK_TIMEOUT_SECS (900: CodeDeploy's
rollbacks), ROLLOUT_POLL_SECS (15), ROLLOUT_VERIFY_CMD (make --no-print-directory verify). The AWS
CLI is `aws` on PATH and the region terraform's, as for make verify.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = int(os.environ.get("ROLLOUT_TIMEOUT_SECS", "1800"))
ROLLBACK_TIMEOUT = int(os.environ.get("ROLLOUT_ROLLBACK_TIMEOUT_SECS", "900"))
POLL = float(os.environ.get("ROLLOUT_POLL_SECS", "15"))
VERIFY_CMD = os.environ.get("ROLLOUT_VERIFY_CMD", "make --no-print-directory verify")
# A deployment's status values; these three are final
# (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentInfo.html).
FINAL = {"Succeeded", "Failed", "Stopped"}
ACTIVE = ["Created", "Queued", "InProgress", "Baking", "Ready"]
# An alias with no second version: update-alias with empty weights sends all traffic to the one
# version (https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html).
NO_WEIGHTS = json.dumps({"AdditionalVersionWeights": {}})


class AwsError(Exception):
    pass


class Aws:
    def __init__(self, region):
        self.cli = shutil.which("aws") or sys.exit("make rollout needs the AWS CLI (aws) on PATH")
        self.region = region

    def __call__(self, service, op, *args):
        cmd = [self.cli, service, op, *args, "--region", self.region, "--output", "json"]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired as e:
            raise AwsError(f"aws {service} {op}: no answer within 120 s") from e
        if run.returncode != 0:
            raise AwsError(f"aws {service} {op}: {run.stderr.strip() or f'exit {run.returncode}'}")
        return json.loads(run.stdout or "{}")


class Function:
    def __init__(self, key, spec):
        self.key = key
        self.name = spec["function_name"]
        self.alias = spec["alias"]
        self.target = str(spec["version"])
        self.group = spec.get("deployment_group")
        self.alarms = spec.get("alarms") or []
        self.previous = None  # the version the alias is on before this rollout
        self.moved = False  # a deployment or an update-alias was started for it
        self.deployment = None
        self.status = None
        self.rollback = None  # CodeDeploy's rollback deployment, when it made one
        self.rollback_status = None
        self.asked_again = False


def say(msg):
    print(msg, flush=True)


def terraform_outputs():
    run = subprocess.run(["terraform", f"-chdir={ROOT / 'terraform'}", "output", "-json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"make rollout: terraform output failed: {run.stderr.strip()}")
    return json.loads(run.stdout)


def weights(alias):
    return (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def appspec(f):
    # The Lambda AppSpec: the function, its alias, the version traffic is on and the one to shift to
    # (https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-resources.html,
    # written as AWS's example: https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-example.html#appspec-file-example-lambda).
    return json.dumps({
        "version": 0.0,
        "Resources": [{f.name: {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": f.name, "Alias": f.alias, "CurrentVersion": f.previous, "TargetVersion": f.target}}}],
    })


def update_alias(aws, f, version):
    aws("lambda", "update-alias", "--function-name", f.name, "--name", f.alias,
        "--function-version", version, "--routing-config", NO_WEIGHTS)


def deployment(aws, deployment_id):
    return aws("deploy", "get-deployment", "--deployment-id", deployment_id)["deploymentInfo"]


def failure(f, info):
    err = info.get("errorInformation") or {}
    detail = ": ".join(x for x in (err.get("code"), err.get("message")) if x) or "no error information"
    watched = f" (its rollout alarms: {', '.join(f.alarms)})" if f.alarms else ""
    return f"{f.key}: CodeDeploy deployment {f.deployment} {info['status'].lower()}: {detail}{watched}"


def start(aws, app, config, changed):
    """Starts a deployment (or, without CodeDeploy, moves the alias) per function; the failure, if any."""
    for f in changed:
        f.moved = True
        try:
            if app:
                f.deployment = aws(
                    "deploy", "create-deployment", "--application-name", app,
                    "--deployment-group-name", f.group, "--deployment-config-name", config,
                    "--description", f"make rollout: {f.name}:{f.alias} {f.previous} -> {f.target}",
                    "--revision", json.dumps({"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(f)}}),
                )["deploymentId"]
                f.status = "Created"
                say(f"  {f.key}: deployment {f.deployment} ({config}), {f.alias} {f.previous} -> {f.target}")
            else:
                update_alias(aws, f, f.target)
                say(f"  {f.key}: {f.alias} {f.previous} -> {f.target} (all at once: no CodeDeploy)")
        except AwsError as e:
            return f"{f.key}: could not start the rollout: {e}"
    return None


def wait(aws, changed):
    """Waits for every deployment to end; the failure, if any (the first failed or stopped one)."""
    t0 = time.monotonic()
    last_line = -60.0
    while True:
        pending = [f for f in changed if f.deployment and f.status not in FINAL]
        if not pending:
            return None
        elapsed = time.monotonic() - t0
        if elapsed >= TIMEOUT:
            return "timeout: after {} s {} still {}".format(
                TIMEOUT, ", ".join(f"{f.key} ({f.deployment})" for f in pending),
                "/".join(sorted({f.status for f in pending})))
        if elapsed - last_line >= 60:
            say(f"  {elapsed:.0f} s: " + ", ".join(f"{f.key} {f.status}" for f in changed if f.deployment))
            last_line = elapsed
        time.sleep(POLL)
        for f in pending:
            try:
                info = deployment(aws, f.deployment)
            except AwsError as e:
                say(f"  {f.key}: {e} (asking again)")
                continue
            if info["status"] != f.status:
                say(f"  {time.monotonic() - t0:.0f} s: {f.key} {f.deployment}: {info['status']}")
            f.status = info["status"]
            if f.status in ("Failed", "Stopped"):
                f.rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
                return failure(f, info)


def verify():
    say(f"== {VERIFY_CMD}")
    try:
        rc = subprocess.run(shlex.split(VERIFY_CMD), cwd=ROOT, timeout=900).returncode
    except subprocess.TimeoutExpired:
        return "make verify did not finish within 900 s"
    return None if rc == 0 else f"make verify failed (exit {rc})"


def roll_back(aws, changed):
    """Every function started back on its previous version; the ones that are not."""
    # 1. CodeDeploy shifts back what is still in flight (the group's DEPLOYMENT_STOP_ON_REQUEST
    #    rollback, asked for here explicitly too).
    for f in changed:
        if f.deployment and f.status not in FINAL:
            try:
                aws("deploy", "stop-deployment", "--deployment-id", f.deployment, "--auto-rollback-enabled")
                say(f"  {f.key}: stopping {f.deployment} with rollback")
            except AwsError as e:
                say(f"  {f.key}: {e} (it may have just ended)")
    # 2. Until each stopped deployment has ended and CodeDeploy's rollback deployment too.
    t0 = time.monotonic()
    while True:
        waiting = []
        for f in changed:
            if not f.deployment:
                continue
            try:
                # Not ended yet, or ended without naming its rollback deployment yet (CodeDeploy
                # starts that one as a new deployment: asked once more).
                if f.status not in FINAL or (f.status != "Succeeded" and not f.rollback and not f.asked_again):
                    f.asked_again = f.status in FINAL
                    info = deployment(aws, f.deployment)
                    f.status = info["status"]
                    f.rollback = (info.get("rollbackInfo") or {}).get("rollbackDeploymentId")
                if f.status in FINAL and f.rollback and f.rollback_status not in FINAL:
                    status = deployment(aws, f.rollback)["status"]
                    if status != f.rollback_status:
                        say(f"  {f.key}: CodeDeploy's rollback {f.rollback}: {status}")
                    f.rollback_status = status
            except AwsError as e:
                say(f"  {f.key}: {e}")
            if f.status not in FINAL or (f.rollback and f.rollback_status not in FINAL):
                waiting.append(f)
        if not waiting or time.monotonic() - t0 >= ROLLBACK_TIMEOUT:
            break
        time.sleep(POLL)
    # 3. Whatever is not back (a deployment that succeeded, a rollback that did not happen or did not
    #    finish, an update-alias of the all-at-once path): the alias itself, whole weight on the
    #    previous version.
    for f in changed:
        try:
            a = aws("lambda", "get-alias", "--function-name", f.name, "--name", f.alias)
            if a.get("FunctionVersion") != f.previous or weights(a):
                update_alias(aws, f, f.previous)
                say(f"  {f.key}: {f.alias} {a.get('FunctionVersion')} -> {f.previous} (update-alias)")
        except AwsError as e:
            say(f"  {f.key}: {e}")
    # 4. Read back.
    off = []
    for f in changed:
        try:
            a = aws("lambda", "get-alias", "--function-name", f.name, "--name", f.alias)
            now = a.get("FunctionVersion")
            if now != f.previous or weights(a):
                off.append(f"{f.key} ({f.name}:{f.alias} on {now}, weights {weights(a) or 'none'}; previous {f.previous})")
        except AwsError as e:
            off.append(f"{f.key} ({e})")
    return off


def refuse(reasons):
    for r in reasons:
        print(f"make rollout: {r}", file=sys.stderr)
    print("make rollout: nothing was moved", file=sys.stderr)
    return 1


def main():
    out = terraform_outputs()
    rollout = (out.get("rollout") or {}).get("value") or {}
    region = (out.get("region") or {}).get("value")
    app, config = rollout.get("codedeploy_application"), rollout.get("deployment_config_name")
    fns = [Function(k, spec) for k, spec in sorted((rollout.get("functions") or {}).items())]
    if not fns:
        say("make rollout: no function with a live alias (create_alias = false): nothing to shift")
        cause = verify()
        if cause:
            print(f"make rollout: {cause}; no function was rolled out, nothing to put back", file=sys.stderr)
            return 1
        return 0
    if not region:
        sys.exit("make rollout: terraform output has no region: run it after terraform apply")
    aws = Aws(region)

    # Where each alias is. One already split between two versions is a deployment in progress, or
    # one interrupted: nothing starts over it.
    say("== live aliases")
    refused = []
    for f in fns:
        try:
            a = aws("lambda", "get-alias", "--function-name", f.name, "--name", f.alias)
        except AwsError as e:
            refused.append(f"{f.key}: {e}")
            continue
        f.previous = a.get("FunctionVersion")
        if weights(a):
            refused.append(f"{f.key}: {f.name}:{f.alias} routes {weights(a)} besides version {f.previous}: "
                           "a deployment is in progress or was interrupted; let it end or stop it "
                           "(docs/operations.md#rollback) and run make rollout again")
        elif app and not (f.previous.isdigit() and f.target.isdigit()):
            refused.append(f"{f.key}: CodeDeploy shifts between published versions; {f.alias} is on "
                           f"{f.previous}, the apply published {f.target}")
    if refused:
        return refuse(refused)
    changed = [f for f in fns if f.previous != f.target]
    # A deployment already under way in a group (an earlier run cut off before the first shift):
    # CodeDeploy would refuse a second one, and the first must end first.
    if app:
        for f in changed:
            try:
                running = aws("deploy", "list-deployments", "--application-name", app, "--deployment-group-name",
                              f.group, "--include-only-statuses", *ACTIVE)["deployments"]
            except AwsError as e:
                running = [str(e)]
            if running:
                refused.append(f"{f.key}: deployment {', '.join(running)} of {f.group} is under way: let it end or "
                               "stop it (docs/operations.md#rollback) and run make rollout again")
    if refused:
        return refuse(refused)
    for f in fns:
        say(f"  {f.key}: {f.name}:{f.alias} on {f.previous}" + (f", to {f.target}" if f in changed else ", unchanged"))

    cause = None
    if changed:
        say(f"== rolling out {', '.join(f.key for f in changed)}"
            + (f" through CodeDeploy ({app})" if app else " all at once (no CodeDeploy)"))
        cause = start(aws, app, config, changed) or (wait(aws, changed) if app else None)
    if cause is None:
        cause = verify()
        if cause is None:
            say("make rollout: " + (f"{', '.join(f'{f.key} on {f.target}' for f in changed)}; make verify passed"
                                    if changed else "nothing to shift; make verify passed"))
            return 0
        if not changed:
            print(f"make rollout: {cause}; no function was rolled out, nothing to put back", file=sys.stderr)
            return 1

    say(f"== rolling back ({cause})")
    off = roll_back(aws, [f for f in changed if f.moved])
    if off:
        print(f"make rollout: {cause}", file=sys.stderr)
        print("make rollout: ROLLBACK INCOMPLETE, not on the previous version: " + "; ".join(off), file=sys.stderr)
        return 2
    print(f"make rollout: {cause}", file=sys.stderr)
    print("make rollout: rolled back: " + ", ".join(f"{f.key} on {f.previous}" for f in changed if f.moved), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
