#!/usr/bin/env python3
"""The AWS resources the local stack needs, created in moto (idempotent), and tokens.

    local/localaws.py setup          user pool, app client, `admin` group, users `user` and
                                     `admin`, the billing dead-letter SQS queue; writes
                                     .local/cognito.env and .local/sqs.env
    local/localaws.py token [USER]   prints an access token for USER (default `user`) and nothing else
    local/localaws.py token USER --id  prints an id token instead

The same calls with the AWS CLI (against moto):
    aws --endpoint-url http://127.0.0.1:4566 cognito-idp initiate-auth \\
        --auth-flow USER_PASSWORD_AUTH --client-id "$COGNITO_CLIENT_ID" \\
        --auth-parameters USERNAME=user,PASSWORD="$COGNITO_USER_PASSWORD" \\
        --query AuthenticationResult.AccessToken --output text
Progress goes to stderr, so `$(local/localaws.py token)` is just the token.
"""
import os
import secrets
import string
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tests point these elsewhere to get a pool of their own.
STATE = os.environ.get("LOCALAWS_STATE_DIR") or os.path.join(ROOT, ".local")
COGNITO_ENV = os.path.join(STATE, "cognito.env")
SQS_ENV = os.path.join(STATE, "sqs.env")
POOL_NAME = os.environ.get("LOCALAWS_POOL_NAME") or "crud-master-local"
CLIENT_NAME = "crud-master-cli"
DLQ_NAME = os.environ.get("LOCALAWS_DLQ_NAME") or "billing-dlq"
USERS = {"user": [], "admin": ["admin"]}


def say(msg):
    print(f"\033[1m[localaws]\033[0m {msg}", file=sys.stderr)


def client(service):
    import boto3  # imported late: `--help` works without it

    return boto3.client(
        service,
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


def read_env(path):
    values = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("export "):
                    line = line[len("export "):]
                if "=" in line and not line.startswith("#"):
                    k, v = line.split("=", 1)
                    values[k] = v.strip("'\"")
    return values


def write_env(path, values, comment):
    os.makedirs(STATE, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# {comment}\n")
        for k, v in values.items():
            f.write(f"export {k}='{v}'\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def strong_password():
    alphabet = string.ascii_letters + string.digits
    core = "".join(secrets.choice(alphabet) for _ in range(20))
    return f"Cm-{core}-9a!"


def find_pool(idp):
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for pool in page["UserPools"]:
            if pool["Name"] == POOL_NAME:
                return pool["Id"]
    return None


def setup_cognito():
    idp = client("cognito-idp")
    saved = read_env(COGNITO_ENV)
    pool_id = find_pool(idp)
    if pool_id is None:
        say(f"creating user pool {POOL_NAME}")
        pool_id = idp.create_user_pool(
            PoolName=POOL_NAME,
            Policies={
                "PasswordPolicy": {
                    "MinimumLength": 12,
                    "RequireUppercase": True,
                    "RequireLowercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": True,
                    "TemporaryPasswordValidityDays": 1,
                }
            },
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
            MfaConfiguration="OFF",
        )["UserPool"]["Id"]
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == CLIENT_NAME), None)
    if client_id is None:
        say(f"creating app client {CLIENT_NAME} (USER_PASSWORD_AUTH, no secret)")
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=CLIENT_NAME,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            AccessTokenValidity=60,
            IdTokenValidity=60,
            TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes"},
        )["UserPoolClient"]["ClientId"]
    groups = [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]]
    if "admin" not in groups:
        say("creating group admin")
        idp.create_group(UserPoolId=pool_id, GroupName="admin", Description="may delete every movie")
    values = {"COGNITO_USER_POOL_ID": pool_id, "COGNITO_CLIENT_ID": client_id}
    for username, user_groups in USERS.items():
        key = f"COGNITO_{username.upper()}_PASSWORD"
        password = saved.get(key) or strong_password()
        try:
            idp.admin_get_user(UserPoolId=pool_id, Username=username)
        except idp.exceptions.UserNotFoundException:
            say(f"creating user {username}")
            idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
        # Permanent, so InitiateAuth answers with tokens and no NEW_PASSWORD_REQUIRED challenge.
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
        for g in user_groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=g)
        values[key] = password
    write_env(COGNITO_ENV, values, "written by local/localaws.py setup: the local Cognito pool (moto)")
    say(f"user pool {pool_id}, client {client_id}; users user and admin (in group admin)")
    return values


def setup_sqs():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    write_env(SQS_ENV, {"BILLING_DLQ_URL": url}, "written by local/localaws.py setup: the billing dead-letter queue (moto)")
    say(f"dead-letter queue {url}")


def token(username, kind):
    values = read_env(COGNITO_ENV)
    idp = client("cognito-idp")
    pool_ok = False
    if values.get("COGNITO_USER_POOL_ID"):
        try:
            idp.describe_user_pool(UserPoolId=values["COGNITO_USER_POOL_ID"])
            pool_ok = True
        except idp.exceptions.ResourceNotFoundException:
            pass
    if not pool_ok:
        say("the local user pool is missing (moto restarted?): setting it up again")
        values = setup_cognito()
    password = values.get(f"COGNITO_{username.upper()}_PASSWORD")
    if not password:
        sys.exit(f"unknown user {username!r}: the local pool has {', '.join(USERS)}")
    result = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=values["COGNITO_CLIENT_ID"],
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    print(result["IdToken" if kind == "id" else "AccessToken"])


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "setup":
        setup_cognito()
        setup_sqs()
        return 0
    if argv[0] == "token":
        rest = [a for a in argv[1:] if not a.startswith("--")]
        token(rest[0] if rest else "user", "id" if "--id" in argv else "access")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
