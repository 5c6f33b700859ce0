"""make rollout's decisions (scripts/rollout.py) against recorded AWS answers, no AWS account.

Each test writes a scenario for fake_aws.py (installed as `aws` and `terraform` on PATH): what
terraform output says, what each AWS CLI call answers, in order. It runs scripts/rollout.py, then
checks its exit code, what it says and the exact AWS calls it made. `make test` runs this file
(python3 -m unittest discover -s scripts/tests).
"""
import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROLLOUT = HERE.parent / "rollout.py"
ANSWERS = json.loads((HERE / "rollout" / "answers.json").read_text())
PREFIX = "crud-master-prod"
CONFIG = "CodeDeployDefault.LambdaCanary10Percent5Minutes"
KEYS = ["billing-api", "billing-consumer", "inventory"]  # the order rollout.py goes through them


def name(key):
    return f"{PREFIX}-{key}"


def alarms(key):
    return [f"{PREFIX}-rollout-{key}-errors", f"{PREFIX}-rollout-{key}-throttles"]


class Scenario:
    """What AWS answers: the published versions, then the CLI's answers, call by call."""

    def __init__(self, published, codedeploy=True):
        self.codedeploy = codedeploy
        self.rules = []
        self.outputs = {
            "region": {"value": "eu-west-1"},
            "rollout": {"value": {
                "codedeploy_application": PREFIX if codedeploy else None,
                "deployment_config_name": CONFIG if codedeploy else None,
                "functions": {k: {
                    "function_name": name(k), "alias": "live", "version": v,
                    "deployment_group": name(k) if codedeploy else None, "alarms": alarms(k),
                } for k, v in published.items()},
            }},
        }

    def rule(self, cmd, match, answers, after=None):
        r = {"cmd": cmd, "match": match, "answers": answers}
        if after:
            r["after"] = after
        self.rules.append(r)
        return self

    def alias(self, key, *versions, weights=None, after=None):
        """get-alias of key's live alias: one answer per call, the last repeating."""
        answers = []
        for v in versions:
            a = copy.deepcopy(ANSWERS["get_alias_weighted" if weights else "get_alias"])
            a["AliasArn"] = f"arn:aws:lambda:eu-west-1:123456789012:function:{name(key)}:live"
            a["FunctionVersion"] = v
            if weights:
                a["RoutingConfig"]["AdditionalVersionWeights"] = weights
            answers.append({"json": a})
        return self.rule("lambda get-alias", {"--function-name": name(key)}, answers, after)

    def update_alias(self, key, error=None):
        answer = {"error": error} if error else {"json": copy.deepcopy(ANSWERS["get_alias"])}
        return self.rule("lambda update-alias", {"--function-name": name(key)}, [answer])

    def create(self, key, deployment_id, error=None):
        answer = {"error": error} if error else {"json": {"deploymentId": deployment_id}}
        return self.rule("deploy create-deployment", {"--deployment-group-name": name(key)}, [answer])

    def deployment(self, deployment_id, key, *statuses, extra=None, after=None):
        """get-deployment of deployment_id: one status per call, the last repeating; extra is merged
        into the final answer (errorInformation, rollbackInfo)."""
        answers = []
        for i, status in enumerate(statuses):
            d = copy.deepcopy(ANSWERS["get_deployment"])
            info = d["deploymentInfo"]
            info.update(deploymentId=deployment_id, deploymentGroupName=name(key), status=status)
            if extra and i == len(statuses) - 1:
                info.update(copy.deepcopy(extra))
            answers.append({"json": d})
        return self.rule("deploy get-deployment", {"--deployment-id": deployment_id}, answers, after)

    def stop(self, deployment_id, error=None):
        answer = {"error": error} if error else {"json": ANSWERS["stop_deployment"]}
        return self.rule("deploy stop-deployment", {"--deployment-id": deployment_id}, [answer])

    def running(self, key, *deployment_ids):
        """list-deployments of key's group, the ones under way."""
        return self.rule("deploy list-deployments", {"--deployment-group-name": name(key)},
                         [{"json": {"deployments": list(deployment_ids)}}])

    def write(self, path):
        # Unless a test says otherwise, no group has a deployment under way.
        rules = self.rules + [{"cmd": "deploy list-deployments", "answers": [{"json": {"deployments": []}}]}]
        path.write_text(json.dumps({"outputs": self.outputs, "rules": rules}, indent=1))


class Run:
    def __init__(self, rc, out, calls):
        self.rc, self.out, self.calls = rc, out, calls

    def of(self, cmd):
        return [c["args"] for c in self.calls if c["cmd"] == cmd]

    def cmds(self):
        return [c["cmd"] for c in self.calls]


def run(scenario, verify_rc=0, timeout=60):
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        for prog in ("aws", "terraform"):
            # fake_aws.py tells aws from terraform by FAKE_PROG.
            exe = d / prog
            exe.write_text(f"#!{sys.executable}\nimport os, runpy\nos.environ['FAKE_PROG'] = {prog!r}\n"
                           f"runpy.run_path({str(HERE / 'fake_aws.py')!r}, run_name='__main__')\n")
            exe.chmod(0o755)
        scenario.write(d / "scenario.json")
        log = d / "calls.jsonl"
        verify = d / "verify.py"
        # The stand-in for make verify logs that it ran, in the same log, so its place among the
        # AWS calls is checked too.
        verify.write_text(f"import json, sys\nopen({str(log)!r}, 'a').write(json.dumps({{'cmd': 'make verify', 'args': {{}}}}) + '\\n')\n"
                          f"sys.exit({verify_rc})\n")
        env = {**os.environ, "PATH": f"{d}{os.pathsep}{os.environ['PATH']}",
               "FAKE_AWS_SCENARIO": str(d / "scenario.json"), "FAKE_AWS_LOG": str(log),
               "ROLLOUT_POLL_SECS": "0", "ROLLOUT_TIMEOUT_SECS": str(timeout),
               "ROLLOUT_ROLLBACK_TIMEOUT_SECS": "30", "ROLLOUT_VERIFY_CMD": f"{sys.executable} {verify}"}
        p = subprocess.run([sys.executable, str(ROLLOUT)], env=env, capture_output=True, text=True, timeout=120)
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        out = p.stdout + p.stderr
        # Every call the script made was one the scenario answers.
        if "fake aws: no answer" in out:
            raise AssertionError(f"a call the scenario does not answer:\n{out}")
        return Run(p.returncode, out, calls)


class RolloutTest(unittest.TestCase):
    def assertCalled(self, r, cmd, n):
        self.assertEqual(len(r.of(cmd)), n, f"{cmd} called {len(r.of(cmd))} times, expected {n}:\n{r.out}")

    def assertNoRollback(self, r):
        self.assertCalled(r, "deploy stop-deployment", 0)
        self.assertCalled(r, "lambda update-alias", 0)

    def assertPutBack(self, r, expected):
        """update-alias calls, exactly: {key: version}, whole weight on it."""
        got = {c["--function-name"]: (c["--name"], c["--function-version"], json.loads(c["--routing-config"]))
               for c in r.of("lambda update-alias")}
        want = {name(k): ("live", v, {"AdditionalVersionWeights": {}}) for k, v in expected.items()}
        self.assertEqual(got, want, r.out)
        self.assertEqual(len(r.of("lambda update-alias")), len(expected), r.out)

    def test_canary_succeeds_and_verify_passes(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        for k, prev, dep in [("inventory", "7", "d-INV"), ("billing-api", "5", "d-API"), ("billing-consumer", "3", "d-CON")]:
            s.alias(k, prev).create(k, dep).deployment(dep, k, "InProgress", "InProgress", "Succeeded")
        r = run(s)
        self.assertEqual(r.rc, 0, r.out)
        self.assertNoRollback(r)
        self.assertIn("make verify passed", r.out)
        # One deployment per function, in its group, with the AppSpec of AWS's Lambda example.
        creates = {c["--deployment-group-name"]: c for c in r.of("deploy create-deployment")}
        self.assertEqual(set(creates), {name(k) for k in KEYS})
        for k, prev, target in [("inventory", "7", "8"), ("billing-api", "5", "6"), ("billing-consumer", "3", "4")]:
            c = creates[name(k)]
            self.assertEqual((c["--application-name"], c["--deployment-config-name"]), (PREFIX, CONFIG))
            rev = json.loads(c["--revision"])
            self.assertEqual(rev["revisionType"], "AppSpecContent")
            spec = json.loads(rev["appSpecContent"]["content"])
            self.assertEqual(spec["version"], 0.0)
            self.assertEqual(spec["Resources"], [{name(k): {"Type": "AWS::Lambda::Function", "Properties": {
                "Name": name(k), "Alias": "live", "CurrentVersion": prev, "TargetVersion": target}}}])
        # make verify once, after every deployment succeeded.
        cmds = r.cmds()
        self.assertEqual(cmds.count("make verify"), 1)
        self.assertEqual(cmds[-1], "make verify")

    def test_nothing_changed_creates_no_deployment(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("inventory", "8").alias("billing-api", "6").alias("billing-consumer", "4")
        r = run(s)
        self.assertEqual(r.rc, 0, r.out)
        self.assertEqual(r.cmds(), ["lambda get-alias"] * 3 + ["make verify"])
        self.assertIn("nothing to shift", r.out)

    def test_only_the_functions_that_changed_are_deployed(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("inventory", "7").alias("billing-api", "6").alias("billing-consumer", "4")
        s.create("inventory", "d-INV").deployment("d-INV", "inventory", "InProgress", "Succeeded")
        r = run(s)
        self.assertEqual(r.rc, 0, r.out)
        self.assertEqual([c["--deployment-group-name"] for c in r.of("deploy create-deployment")], [name("inventory")])
        self.assertNoRollback(r)

    def test_alarm_stops_a_deployment_and_every_function_goes_back(self):
        # billing-api still shifting, billing-consumer done, inventory stopped by its errors alarm.
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("billing-api", "5").alias("billing-consumer", "3", "4", "3").alias("inventory", "7")
        s.create("billing-api", "d-API").create("billing-consumer", "d-CON").create("inventory", "d-INV")
        s.deployment("d-API", "billing-api", "Stopped", extra=ANSWERS["stopped_on_request"], after="deploy stop-deployment")
        s.deployment("d-API", "billing-api", "InProgress")
        s.deployment("d-CON", "billing-consumer", "Succeeded")
        s.deployment("d-INV", "inventory", "Stopped", extra=ANSWERS["stopped_by_alarm"])
        s.deployment("d-INVROLLBK1", "inventory", "InProgress", "Succeeded")
        s.deployment("d-ROLLBACK01", "billing-api", "Succeeded")
        s.stop("d-API").update_alias("billing-consumer")
        r = run(s)
        self.assertEqual(r.rc, 1, r.out)
        # The cause: the function, the deployment, the alarm that fired.
        self.assertIn("inventory: CodeDeploy deployment d-INV stopped: ALARM_ACTIVE", r.out)
        self.assertIn("crud-master-prod-rollout-inventory-errors", r.out)
        # The one in flight stopped with CodeDeploy's rollback; the one that had succeeded put back
        # by hand; the stopped ones left to CodeDeploy's rollbacks, which were waited for.
        self.assertEqual(r.of("deploy stop-deployment"), [{"--deployment-id": "d-API", "--auto-rollback-enabled": True}])
        self.assertPutBack(r, {"billing-consumer": "3"})
        waited = [c["--deployment-id"] for c in r.of("deploy get-deployment")]
        self.assertIn("d-INVROLLBK1", waited)
        self.assertIn("d-ROLLBACK01", waited)
        self.assertNotIn("make verify", r.cmds())
        self.assertIn("rolled back: billing-api on 5, billing-consumer on 3, inventory on 7", r.out)

    def test_verify_fails_after_the_rollout_puts_every_alias_back(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        for k, prev, target, dep in [("inventory", "7", "8", "d-INV"), ("billing-api", "5", "6", "d-API"),
                                     ("billing-consumer", "3", "4", "d-CON")]:
            s.alias(k, prev, target, prev).create(k, dep).deployment(dep, k, "InProgress", "Succeeded").update_alias(k)
        r = run(s, verify_rc=1)
        self.assertEqual(r.rc, 1, r.out)
        self.assertIn("make verify failed (exit 1)", r.out)
        self.assertCalled(r, "deploy stop-deployment", 0)
        self.assertPutBack(r, {"inventory": "7", "billing-api": "5", "billing-consumer": "3"})
        # Put back after verify, and read back after.
        cmds = r.cmds()
        self.assertLess(cmds.index("make verify"), cmds.index("lambda update-alias"))
        self.assertEqual(cmds[-3:], ["lambda get-alias"] * 3)

    def test_timeout_stops_the_deployment_with_rollback(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("inventory", "7").alias("billing-api", "6").alias("billing-consumer", "4")
        s.create("inventory", "d-INV")
        s.deployment("d-INV", "inventory", "Stopped", extra=ANSWERS["stopped_on_request"], after="deploy stop-deployment")
        s.deployment("d-INV", "inventory", "InProgress")
        s.deployment("d-ROLLBACK01", "inventory", "Succeeded")
        s.stop("d-INV")
        r = run(s, timeout=1)
        self.assertEqual(r.rc, 1, r.out)
        self.assertIn("timeout: after 1 s inventory (d-INV) still InProgress", r.out)
        self.assertEqual(r.of("deploy stop-deployment"), [{"--deployment-id": "d-INV", "--auto-rollback-enabled": True}])
        self.assertCalled(r, "lambda update-alias", 0)
        self.assertNotIn("make verify", r.cmds())

    def test_an_alias_split_between_two_versions_is_left_alone(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("inventory", "7", weights={"8": 0.1}).alias("billing-api", "5").alias("billing-consumer", "3")
        r = run(s)
        self.assertEqual(r.rc, 1, r.out)
        self.assertIn("a deployment is in progress or was interrupted", r.out)
        self.assertIn("nothing was moved", r.out)
        self.assertEqual(r.cmds(), ["lambda get-alias"] * 3)

    def test_a_deployment_already_under_way_is_left_alone(self):
        # An earlier run cut off after create-deployment, before CodeDeploy's first shift.
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("inventory", "7").alias("billing-api", "6").alias("billing-consumer", "4")
        s.running("inventory", "d-EARLIER01")
        r = run(s)
        self.assertEqual(r.rc, 1, r.out)
        self.assertIn("deployment d-EARLIER01 of crud-master-prod-inventory is under way", r.out)
        self.assertEqual(r.cmds(), ["lambda get-alias"] * 3 + ["deploy list-deployments"])
        self.assertEqual(r.of("deploy list-deployments")[0]["--include-only-statuses"],
                         ["Created", "Queued", "InProgress", "Baking", "Ready"])

    def test_a_deployment_that_cannot_start_rolls_back_the_started_ones(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("billing-api", "5").alias("billing-consumer", "3").alias("inventory", "7")
        s.create("billing-api", "d-API").create("billing-consumer", None, error=ANSWERS["errors"]["deployment_limit"])
        s.deployment("d-API", "billing-api", "Stopped", extra=ANSWERS["stopped_on_request"], after="deploy stop-deployment")
        s.deployment("d-API", "billing-api", "Created")
        s.deployment("d-ROLLBACK01", "billing-api", "Succeeded")
        s.stop("d-API")
        r = run(s)
        self.assertEqual(r.rc, 1, r.out)
        self.assertIn("billing-consumer: could not start the rollout", r.out)
        self.assertIn("DeploymentLimitExceededException", r.out)
        # inventory was never started; billing-api stopped with rollback.
        self.assertEqual([c["--deployment-group-name"] for c in r.of("deploy create-deployment")],
                         [name("billing-api"), name("billing-consumer")])
        self.assertEqual(r.of("deploy stop-deployment"), [{"--deployment-id": "d-API", "--auto-rollback-enabled": True}])
        self.assertCalled(r, "lambda update-alias", 0)

    def test_without_codedeploy_aliases_move_all_at_once_and_back(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"}, codedeploy=False)
        for k, prev, target in [("inventory", "7", "8"), ("billing-api", "5", "6"), ("billing-consumer", "3", "4")]:
            s.alias(k, prev, target, prev).update_alias(k)
        r = run(s, verify_rc=1)
        self.assertEqual(r.rc, 1, r.out)
        self.assertNotIn("deploy create-deployment", r.cmds())
        ups = [(c["--function-name"], c["--function-version"]) for c in r.of("lambda update-alias")]
        self.assertEqual(ups, [(name("billing-api"), "6"), (name("billing-consumer"), "4"), (name("inventory"), "8"),
                               (name("billing-api"), "5"), (name("billing-consumer"), "3"), (name("inventory"), "7")])

    def test_a_rollback_that_cannot_put_an_alias_back_exits_2_naming_it(self):
        s = Scenario({"inventory": "8", "billing-api": "6", "billing-consumer": "4"})
        s.alias("billing-api", "5", "6").alias("billing-consumer", "4").alias("inventory", "8")
        s.create("billing-api", "d-API").deployment("d-API", "billing-api", "Succeeded")
        s.update_alias("billing-api", error=ANSWERS["errors"]["access_denied"])
        r = run(s, verify_rc=3)
        self.assertEqual(r.rc, 2, r.out)
        self.assertIn("make verify failed (exit 3)", r.out)
        self.assertIn("ROLLBACK INCOMPLETE", r.out)
        self.assertIn("billing-api (crud-master-prod-billing-api:live on 6", r.out)
        self.assertIn("AccessDeniedException", r.out)


if __name__ == "__main__":
    unittest.main()
