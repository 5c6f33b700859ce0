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
- CloudFront GetDistribution drops an origin's OriginAccessControlId and a behavior's
  FunctionAssociations, answers ForwardedValues for a behavior created with a cache policy and
  without them, and SSLSupportMethod sni-only for the default certificate, none of which AWS
  answers that way (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Origin.html,
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CacheBehavior.html,
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ViewerCertificate.html); and
  it writes a distribution's ARN without the empty region field (arn:aws:cloudfront:<account>:...,
  AWS's is arn:aws:cloudfront::<account>:distribution/<id>,
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudfront.html),
  which the IAM lint then refuses as an ARN in the web bucket's policy.

Each patch only makes moto echo back what it was given; nothing here changes what Terraform sends.

One evaluation is corrected: moto enforces S3 bucket policies (principal "*" statements) on
every S3 call but ignores their conditions ("Conditions are not taken into account", its
put_bucket_policy), so a statement applies as if its Condition always held. The web bucket's
Deny of requests without TLS (aws:SecureTransport false), which AWS applies to plain-HTTP
requests only (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport),
would refuse every call of the provider with 403. patch_s3 leaves the statements with a Condition
out of moto's evaluation: moto has no request context to decide them with.

One API is emulated instead, not a read-back gap: moto 5.2.1 has no CloudFront response headers
policy API at all (CreateResponseHeadersPolicy answers 404), which the web distribution needs
(terraform/modules/web). patch_cloudfront adds Create/Get/GetConfig/Update/Delete/List
ResponseHeadersPolicy (https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateResponseHeadersPolicy.html):
an in-memory store keyed by id, each policy with its ETag (a wrong If-Match is
PreconditionFailed, a second policy of one name ResponseHeadersPolicyAlreadyExists, as on AWS);
the configuration is stored and answered as it was sent, and not validated.

For the local stack (scripts/services.sh sets MOTO_LOCAL_GUARD=1), moto is also closed to web
pages: moto answers every origin (`Access-Control-Allow-Origin: *`) and holds the local Cognito
pool and secrets, so a page open in the developer's browser could read them, directly or by DNS
rebinding. The guard refuses (403) a request from a peer that is not loopback, to a Host that is
not a loopback name, or with any Origin (no browser needs moto), and sends no CORS header.
Usage: python3 scripts/moto_server.py -H 127.0.0.1 -p PORT (same arguments as moto.server).
"""

import datetime
import ipaddress
import json
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


def patch_s3() -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3 import models as s3_models

    def get_permission(self, action, resource):
        if self.policy is None:
            return PermissionResult.NEUTRAL
        doc = json.loads(self.policy.decode())
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        # moto has no request context to decide a condition with: such a statement is left out.
        doc["Statement"] = [st for st in statements if "Condition" not in st]
        return IAMPolicy(json.dumps(doc)).is_action_permitted(action, resource)

    s3_models.FakeBucket.get_permission = get_permission


def patch_cloudfront_distribution() -> None:
    from moto.cloudfront import models as cf_models

    origin_init = cf_models.Origin.__init__

    def origin_init_(self, origin):
        origin_init(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    behaviour_init = cf_models.DefaultCacheBehaviour.__init__

    def behaviour_init_(self, config):
        behaviour_init(self, config)
        # Legacy cache settings only when they were sent (a behavior with a cache policy has none).
        if "ForwardedValues" not in config:
            self.forwarded_values = None
        if config.get("FunctionAssociations"):
            self.function_associations = config["FunctionAssociations"]

    certificate_init = cf_models.ViewerCertificate.__init__

    def certificate_init_(self, config):
        certificate_init(self, config)
        self.ssl_support_method = config.get("SSLSupportMethod")

    distribution_init = cf_models.Distribution.__init__

    def distribution_init_(self, account_id, region_name, config):
        distribution_init(self, account_id, region_name, config)
        self.arn = self.arn.replace(f":cloudfront:{account_id}:", f":cloudfront::{account_id}:", 1)

    cf_models.Distribution.__init__ = distribution_init_
    cf_models.Origin.__init__ = origin_init_
    cf_models.DefaultCacheBehaviour.__init__ = behaviour_init_
    cf_models.ViewerCertificate.__init__ = certificate_init_


def patch_cloudfront() -> None:
    from moto.cloudfront import responses as cf_responses
    from moto.cloudfront import urls as cf_urls
    from moto.cloudfront.exceptions import CloudFrontException
    from moto.cloudfront.models import random_id
    from moto.core.responses import ActionResult, EmptyResult

    # The routes, before moto.server builds its URL map from them.
    base = "{0}/2020-05-31/response-headers-policy"
    cf_urls.url_paths[base + "$"] = cf_responses.CloudFrontResponse.dispatch
    cf_urls.url_paths[base + "/(?P<id>[^/]+)$"] = cf_responses.CloudFrontResponse.dispatch
    cf_urls.url_paths[base + "/(?P<id>[^/]+)/config$"] = cf_responses.CloudFrontResponse.dispatch

    # id -> {"config", "etag", "modified"}; one account, as tf-moto uses.
    policies: dict[str, dict] = {}

    def found(policy_id):
        if policy_id not in policies:
            raise CloudFrontException("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")
        return policies[policy_id]

    def matched(self, policy):
        if_match = self._get_param("IfMatch")
        if not if_match:
            raise CloudFrontException("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.")
        if if_match != policy["etag"]:
            raise CloudFrontException("PreconditionFailed", "The precondition given in one or more of the request fields evaluated to false.")

    def result(policy_id, with_location=False):
        p = policies[policy_id]
        out = {
            "ResponseHeadersPolicy": {"Id": policy_id, "LastModifiedTime": p["modified"], "ResponseHeadersPolicyConfig": p["config"]},
            "ETag": p["etag"],
        }
        if with_location:
            out["Location"] = f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy_id}"
        return ActionResult(out)

    def create_response_headers_policy(self):
        config = self._get_param("ResponseHeadersPolicyConfig", {})
        if any(p["config"].get("Name") == config.get("Name") for p in policies.values()):
            raise CloudFrontException("ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists.")
        policy_id = "-".join(random_id(uppercase=False, length=n) for n in (8, 4, 4, 4, 12))
        policies[policy_id] = {"config": config, "etag": random_id(), "modified": datetime.datetime.now(datetime.timezone.utc)}
        return result(policy_id, with_location=True)

    def get_response_headers_policy(self):
        policy_id = self._get_param("Id")
        found(policy_id)
        return result(policy_id)

    def get_response_headers_policy_config(self):
        p = found(self._get_param("Id"))
        return ActionResult({"ResponseHeadersPolicyConfig": p["config"], "ETag": p["etag"]})

    def update_response_headers_policy(self):
        policy_id = self._get_param("Id")
        p = found(policy_id)
        matched(self, p)
        p.update(config=self._get_param("ResponseHeadersPolicyConfig", {}), etag=random_id(),
                 modified=datetime.datetime.now(datetime.timezone.utc))
        return result(policy_id)

    def delete_response_headers_policy(self):
        policy_id = self._get_param("Id")
        matched(self, found(policy_id))
        del policies[policy_id]
        return EmptyResult()

    def list_response_headers_policies(self):
        items = [{"Type": "custom", "ResponseHeadersPolicy": {"Id": i, "LastModifiedTime": p["modified"],
                                                               "ResponseHeadersPolicyConfig": p["config"]}}
                 for i, p in policies.items()]
        return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items or None}})

    cls = cf_responses.CloudFrontResponse
    for f in (create_response_headers_policy, get_response_headers_policy, get_response_headers_policy_config,
              update_response_headers_policy, delete_response_headers_policy, list_response_headers_policies):
        setattr(cls, f.__name__, f)


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
    patch_s3()
    patch_cloudfront_distribution()
    patch_cloudfront()
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
