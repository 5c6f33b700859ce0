"""moto server for scripts/tf-moto.sh, with the read-back gaps of moto 5.2.x filled in.

tf-moto requires the plan right after apply to be empty. moto accepts these attributes on create but
does not return them on read, so the AWS provider would see drift that real AWS does not have:

- Lambda GetFunction omits KMSKeyArn and LoggingConfig (they are returned by AWS:
  https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).
- RDS DescribeDBParameters omits Source, and the provider keeps only Source=user parameters
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Parameter.html).
- EC2 security group rules referencing a group lose their Description
  (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html).
- CodeDeploy GetDeploymentGroup answers an empty alarmConfiguration whatever the group was created
  with (AWS returns it: https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_DeploymentGroupInfo.html)
  and an empty loadBalancerInfo where AWS has none, and GetApplication writes createTime as an ISO string where AWS's JSON protocol sends epoch
  seconds (https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ApplicationInfo.html),
  which the provider's SDK refuses to decode.

Each patch only makes moto echo back what it was given; nothing here changes what Terraform sends.

For the local stack (scripts/services.sh sets MOTO_LOCAL_GUARD=1), moto is also closed to web
pages: moto answers every origin (`Access-Control-Allow-Origin: *`) and holds the local Cognito
pool and secrets, so a page open in the developer's browser could read them, directly or by DNS
rebinding. The guard refuses (403) a request from a peer that is not loopback, to a Host that is
not a loopback name, or with any Origin (no browser needs moto), and sends no CORS header.
Usage: python3 scripts/moto_server.py -H 127.0.0.1 -p PORT (same arguments as moto.server).
"""

import datetime
import ipaddress
import os
import re
import sys

import moto
from moto.awslambda import models as lambda_models
from moto.codedeploy import models as codedeploy_models
from moto.ec2.models import security_groups as sg_models
from moto.rds import models as rds_models


def patch_lambda() -> None:
    cls = lambda_models.LambdaFunction
    init, get_configuration, update_configuration = cls.__init__, cls.get_configuration, cls.update_configuration

    def __init__(self, account_id, spec, region, version=1):  # noqa: N807
        init(self, account_id, spec, region, version)
        self.kms_key_arn = spec.get("KMSKeyArn")
        self.logging_config = spec.get("LoggingConfig")

    def get_configuration_(self, on_create=False):
        config = get_configuration(self, on_create)
        if getattr(self, "kms_key_arn", None):
            config["KMSKeyArn"] = self.kms_key_arn
        if getattr(self, "logging_config", None):
            config["LoggingConfig"] = self.logging_config
        return config

    def update_configuration_(self, config_updates):
        if "KMSKeyArn" in config_updates:
            self.kms_key_arn = config_updates["KMSKeyArn"] or None
        if "LoggingConfig" in config_updates:
            self.logging_config = config_updates["LoggingConfig"]
        return update_configuration_orig(self, config_updates)

    update_configuration_orig = update_configuration
    cls.__init__ = __init__
    cls.get_configuration = get_configuration_
    cls.update_configuration = update_configuration_


def patch_rds() -> None:
    cls = rds_models.DBParameterGroup
    update_parameters = cls.update_parameters

    def update_parameters_(self, new_parameters):
        new_parameters = list(new_parameters)
        update_parameters(self, new_parameters)
        for p in new_parameters:
            self.parameters[p["ParameterName"]].setdefault("Source", "user")

    cls.update_parameters = update_parameters_


def patch_ec2() -> None:
    cls = sg_models.SecurityGroupRule

    def description(self):
        return self.ip_range.get("Description") or (self.source_group or {}).get("Description")

    cls.description = property(description)


def patch_codedeploy() -> None:
    cls = codedeploy_models.DeploymentGroup
    to_dict = cls.to_dict

    def to_dict_(self):
        out = to_dict(self)
        # moto keeps the request's alarmConfiguration as it came (a dict) but writes {} back.
        if self.alarm_configuration:
            out["alarmConfiguration"] = self.alarm_configuration
        # ... and an empty loadBalancerInfo, which AWS leaves out when there is none (Lambda).
        if not out.get("loadBalancerInfo"):
            out.pop("loadBalancerInfo", None)
        return out

    cls.to_dict = to_dict_

    app = codedeploy_models.Application
    app_to_dict = app.to_dict

    def app_to_dict_(self):
        out = app_to_dict(self)
        out["createTime"] = datetime.datetime.fromisoformat(out["createTime"].replace("Z", "+00:00")).timestamp()
        return out

    app.to_dict = app_to_dict_


LOOPBACK_HOST = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?$", re.IGNORECASE)


def refusal(environ) -> str | None:
    """Why a request may not reach moto, or None."""
    try:
        if not ipaddress.ip_address(environ.get("REMOTE_ADDR", "")).is_loopback:
            return "the peer is not on this machine"
    except ValueError:
        return "the peer is not on this machine"
    if not LOOPBACK_HOST.match(environ.get("HTTP_HOST", "")):
        return "the Host header is not a loopback name"
    if "HTTP_ORIGIN" in environ:
        return "the request comes from a web page (Origin)"
    return None


def local_guard(app):
    def guarded(environ, start_response):
        why = refusal(environ)
        if why is not None:
            body = f'{{"message": "Forbidden: {why}"}}'.encode()
            start_response("403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        def no_cors(status, headers, exc_info=None):
            kept = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            return start_response(status, kept, exc_info)

        return app(environ, no_cors)

    return guarded


def main() -> None:
    patch_lambda()
    patch_rds()
    patch_ec2()
    patch_codedeploy()
    import moto.server
    from moto.server import main as server_main

    if os.environ.get("MOTO_LOCAL_GUARD") == "1":
        run_simple = moto.server.run_simple

        def run_guarded(host, port, app, **kwargs):
            return run_simple(host, port, local_guard(app), **kwargs)

        moto.server.run_simple = run_guarded

    print(f"moto {moto.__version__} with tf-moto read-back patches", flush=True)
    server_main(sys.argv[1:])


if __name__ == "__main__":
    main()
