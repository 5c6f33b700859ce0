#!/usr/bin/env python3
"""The AWS resources the local stack needs, created in moto (idempotent), and tokens.

    local/localaws.py setup          user pool, user app client, `admin` group, users `user` and
                                     `admin`, resource server `crud-master` with its scopes, the
                                     machine client, the billing dead-letter SQS queue; writes
                                     .local/cognito.env and .local/sqs.env
    local/localaws.py token [USER]   prints an access token for USER (default `user`) and nothing else
    local/localaws.py token USER --id  prints an id token instead
    local/localaws.py machine-token [SCOPE...]
                                     prints a client-credentials access token of the machine
                                     client with SCOPEs (`movies.read` or `crud-master/movies.read`;
                                     default: every scope the client is allowed)

The same calls with the AWS CLI (against moto):
    aws --endpoint-url http://127.0.0.1:4566 cognito-idp initiate-auth \\
        --auth-flow USER_PASSWORD_AUTH --client-id "$COGNITO_CLIENT_ID" \\
        --auth-parameters USERNAME=user,PASSWORD="$COGNITO_USER_PASSWORD" \\
        --query AuthenticationResult.AccessToken --output text
Progress goes to stderr, so `$(local/localaws.py token)` is just the token.

moto has no OAuth2 token endpoint (no client-credentials grant), so `machine-token` mints the
token Cognito's /oauth2/token would return (same claims: sub = client_id, token_use, scope,
iss, exp, iat, auth_time, jti, version, client_id), signed with the key moto signs every pool's
tokens with (it ships inside moto), and refuses scopes the client is not allowed, as Cognito
answers invalid_scope.
"""
import os
import time
import uuid
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
MACHINE_CLIENT_NAME = "crud-master-machine"
# The resource server and its scopes, as terraform/modules/auth creates them.
RESOURCE_SERVER = "crud-master"
SCOPES = {
    "movies.read": "Read movies",
    "movies.write": "Create, update and delete single movies",
    "movies.admin": "Delete all movies (machine client only)",
    "billing.read": "Read the client's orders",
    "billing.write": "Place orders",
}
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
    try:
        idp.describe_resource_server(UserPoolId=pool_id, Identifier=RESOURCE_SERVER)
    except idp.exceptions.ResourceNotFoundException:
        say(f"creating resource server {RESOURCE_SERVER} ({', '.join(SCOPES)})")
        idp.create_resource_server(
            UserPoolId=pool_id,
            Identifier=RESOURCE_SERVER,
            Name=f"{RESOURCE_SERVER} API",
            Scopes=[{"ScopeName": k, "ScopeDescription": v} for k, v in SCOPES.items()],
        )
    machine_id = next((c["ClientId"] for c in clients if c["ClientName"] == MACHINE_CLIENT_NAME), None)
    if machine_id is None:
        say(f"creating app client {MACHINE_CLIENT_NAME} (client credentials, every {RESOURCE_SERVER} scope)")
        machine_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=MACHINE_CLIENT_NAME,
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=[f"{RESOURCE_SERVER}/{name}" for name in SCOPES],
            SupportedIdentityProviders=["COGNITO"],
        )["UserPoolClient"]["ClientId"]
    groups = [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]]
    if "admin" not in groups:
        say("creating group admin")
        idp.create_group(UserPoolId=pool_id, GroupName="admin", Description="may delete every movie")
    values = {
        "COGNITO_USER_POOL_ID": pool_id,
        "COGNITO_CLIENT_ID": client_id,
        "COGNITO_MACHINE_CLIENT_ID": machine_id,
        "COGNITO_RESOURCE_SERVER": RESOURCE_SERVER,
    }
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
    say(f"user pool {pool_id}, user client {client_id}, machine client {machine_id}; users user and admin (in group admin)")
    return values


def setup_sqs():
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    write_env(SQS_ENV, {"BILLING_DLQ_URL": url}, "written by local/localaws.py setup: the billing dead-letter queue (moto)")
    say(f"dead-letter queue {url}")


def current_pool(idp):
    """The saved pool's settings, setting the pool up again when moto lost it."""
    values = read_env(COGNITO_ENV)
    if values.get("COGNITO_USER_POOL_ID") and values.get("COGNITO_MACHINE_CLIENT_ID"):
        try:
            idp.describe_user_pool(UserPoolId=values["COGNITO_USER_POOL_ID"])
            return values
        except idp.exceptions.ResourceNotFoundException:
            pass
    say("the local user pool is missing or older than this script (moto restarted?): setting it up")
    return setup_cognito()


def token(username, kind):
    idp = client("cognito-idp")
    values = current_pool(idp)
    password = values.get(f"COGNITO_{username.upper()}_PASSWORD")
    if not password:
        sys.exit(f"unknown user {username!r}: the local pool has {', '.join(USERS)}")
    result = idp.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=values["COGNITO_CLIENT_ID"],
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    print(result["IdToken" if kind == "id" else "AccessToken"])


def machine_token(requested):
    idp = client("cognito-idp")
    values = current_pool(idp)
    pool_id, client_id = values["COGNITO_USER_POOL_ID"], values["COGNITO_MACHINE_CLIENT_ID"]
    allowed = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"].get(
        "AllowedOAuthScopes", []
    )
    scopes = [s if "/" in s else f"{RESOURCE_SERVER}/{s}" for s in requested] or allowed
    refused = [s for s in scopes if s not in allowed]
    if refused:
        sys.exit(f"invalid_scope: the machine client may not request {', '.join(refused)}")
    from joserfc import jwk, jwt  # moto's own JWT library
    from moto.utilities.utils import load_resource

    key = jwk.RSAKey.import_key(load_resource("moto.cognitoidp.models", "resources/jwks-private.json"))
    now = int(time.time())
    region = pool_id.split("_", 1)[0]
    claims = {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iss": f"https://cognito-idp.{region}.amazonaws.com/{pool_id}",
        "exp": now + 3600,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }
    # kid "dummy": the key id moto publishes in every pool's JWKS.
    print(jwt.encode({"alg": "RS256", "kid": "dummy"}, claims, key))


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
    if argv[0] == "machine-token":
        machine_token(argv[1:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
