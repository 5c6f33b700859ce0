#!/usr/bin/env python3
"""No secret in the Terraform state: every secret value the apply created, searched for in the state.

Usage: tf-state-secrets.py ENDPOINT STATE_FILE

Reads, from the AWS endpoint the apply ran against (moto in scripts/tf-moto.sh), the current value
of every Secrets Manager secret and every Cognito app client secret, and fails if any of them (or a
field of a JSON secret) appears anywhere in STATE_FILE (`terraform state pull`), raw or JSON-escaped.

Also checks that the machine client's secret holds the id and secret of a real client (the
apply's AWS CLI step), and that the GitHub plan role is trusted only by jobs in an environment and
denied every API that returns a secret value.

One exception, by design and named: the broker's bootstrap password (secret name
`<name>/broker-bootstrap-...`). aws_mq_broker has no write-only password argument in provider 5.100,
so the broker is created with a throwaway password that the state holds; setup replaces it with the
stored administrator password before creating any other user, and refuses to go on if it cannot
(docs/security.md, "What the Terraform state holds").
"""

import json
import subprocess
import sys

BOOTSTRAP_MARKER = "/broker-bootstrap-"
# Shorter values (a port, "true", a user name) are not secrets and would match by accident.
MIN_SECRET_LEN = 12


def leaves(value):
    """The string values of a secret: the whole string, or every string field of a JSON object."""
    try:
        doc = json.loads(value)
    except (TypeError, ValueError):
        return [value]
    if isinstance(doc, dict):
        return [v for k, v in doc.items() if isinstance(v, str) and k not in ("username", "client_id", "engine", "host", "dbname")]
    return [value]


def aws(endpoint, *args):
    """The AWS CLI on PATH (scripts/tf-moto.sh puts the pinned one first), JSON out."""
    run = subprocess.run(["aws", *args, "--endpoint-url", endpoint, "--output", "json"],
                         capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(f"aws {' '.join(args[:2])}: {run.stderr.strip()}")
    return json.loads(run.stdout or "{}")


def machine_client_matches(secrets, clients):
    """The apply's AWS CLI step wrote the machine client's id and secret into its secret: the
    client it names exists in Cognito with that secret. `secrets`: name -> value; `clients`:
    client id -> DescribeUserPoolClient's UserPoolClient, as secret_values read them."""
    mine = [v for name, v in secrets.items() if "/machine-client-" in name]
    if len(mine) != 1:
        sys.exit(f"expected one machine-client secret, found {len(mine)}")
    doc = json.loads(mine[0])
    d = clients.get(doc["client_id"])
    if d is None:
        sys.exit(f"the machine client's secret names client {doc['client_id']}, which Cognito does not have")
    if d.get("ClientSecret") != doc["client_secret"] or d.get("AllowedOAuthFlows") != ["client_credentials"]:
        sys.exit("the machine client's secret does not hold that client's secret")
    print(f"machine client {d['ClientName']}: its secret holds its id and secret, scopes {' '.join(d.get('AllowedOAuthScopes', []))}")


def secret_values(endpoint):
    """(values to search, the bootstrap's values, secret name -> value, client id -> client)."""
    found, bootstrap, by_name, clients = [], [], {}, {}
    for s in aws(endpoint, "secretsmanager", "list-secrets")["SecretList"]:
        try:
            v = aws(endpoint, "secretsmanager", "get-secret-value", "--secret-id", s["ARN"])
        except RuntimeError as e:
            if "ResourceNotFoundException" in str(e):
                continue  # no current version: the secret holds nothing yet
            raise
        if "SecretString" not in v:
            continue
        by_name[s["Name"]] = v["SecretString"]
        target = bootstrap if BOOTSTRAP_MARKER in s["Name"] else found
        target.extend((f"secret {s['Name']}", x) for x in leaves(v["SecretString"]))
    for pool in aws(endpoint, "cognito-idp", "list-user-pools", "--max-results", "60")["UserPools"]:
        listed = aws(endpoint, "cognito-idp", "list-user-pool-clients", "--user-pool-id", pool["Id"])
        for c in listed["UserPoolClients"]:
            d = aws(endpoint, "cognito-idp", "describe-user-pool-client", "--user-pool-id", pool["Id"],
                    "--client-id", c["ClientId"])["UserPoolClient"]
            clients[c["ClientId"]] = d
            if d.get("ClientSecret"):
                found.append((f"client secret of Cognito app client {c['ClientName']}", d["ClientSecret"]))
    return found, bootstrap, by_name, clients


# What the pull-request plan role must never do: every API that returns a secret value.
PLAN_DENIED = {"secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
               "cognito-idp:DescribeUserPoolClient", "kms:Decrypt", "ssm:GetParameter"}


def plan_role_reads_no_secret(state):
    """The GitHub plan role (create_github_oidc): trusted only by jobs in an environment (a pull
    request gets a token only after an approval), and denied every secret-returning API."""
    roles = {(r.get("module", ""), r["type"], r["name"]): r["instances"][0]["attributes"]
             for r in state["resources"] if r.get("mode") == "managed" and r["instances"]}
    trust = next((a["assume_role_policy"] for (m, t, n), a in roles.items()
                  if m.startswith("module.github_oidc") and t == "aws_iam_role" and n == "plan"), None)
    if trust is None:
        print("plan role: none in this state (create_github_oidc = false)")
        return
    subs = [v for st in json.loads(trust)["Statement"]
            for v in (lambda x: x if isinstance(x, list) else [x])(
                st.get("Condition", {}).get("StringEquals", {}).get("token.actions.githubusercontent.com:sub", []))]
    if not subs or any(":environment:" not in v for v in subs):
        sys.exit(f"the plan role trusts subjects outside an environment: {subs}")
    policy = next(a["policy"] for (m, t, n), a in roles.items()
                  if m.startswith("module.github_oidc") and t == "aws_iam_role_policy" and n == "plan")
    denied = {a for st in json.loads(policy)["Statement"] if st["Effect"] == "Deny"
              for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    if not PLAN_DENIED <= denied:
        sys.exit(f"the plan role is not denied {sorted(PLAN_DENIED - denied)}")
    print(f"plan role: trusted by {', '.join(subs)} only; denied {len(denied)} secret-returning actions")


def main():
    endpoint, state_path = sys.argv[1], sys.argv[2]
    with open(state_path, encoding="utf-8") as f:
        state = f.read()
    plan_role_reads_no_secret(json.loads(state))
    found, bootstrap, by_name, clients = secret_values(endpoint)
    machine_client_matches(by_name, clients)
    checked = [(what, v) for what, v in found if len(v) >= MIN_SECRET_LEN]
    if not checked:
        sys.exit("no secret value found at the endpoint: the check would prove nothing")
    leaked = [what for what, v in checked if v in state or json.dumps(v)[1:-1] in state]
    for what in leaked:
        print(f"IN THE STATE: the value of {what}", file=sys.stderr)
    in_state = sum(1 for _, v in bootstrap if v in state)
    print(
        f"state secrets: {len(checked)} secret values searched in the state ({len(state)} bytes), "
        f"{len(leaked)} found; the broker bootstrap password is in it by design ({in_state} of {len(bootstrap)} values)"
    )
    if leaked:
        sys.exit(f"{len(leaked)} secret value(s) in the Terraform state")


if __name__ == "__main__":
    main()
