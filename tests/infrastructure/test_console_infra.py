"""Infrastructure tests of the operator console: private S3 + CloudFront (same origin as the API), its runtime
config.json, and the IoT Core custom authorizer of its live channel (same session synth as test_stack)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_cloudfront as cloudfront

from infra.constructs.console import (
    CONSOLE_AUTH_HANDLER,
    SPA_ROUTES_JS,
    ConsoleNotBuiltError,
    console_dist,
    content_security_policy,
    tile_source,
)

from .conftest import STAGE, Synth
from .test_stack import _as_list, _statements_of_role

pytestmark = pytest.mark.infra

CONFIG_KEYS = {
    "apiUrl",
    "region",
    "cognitoEndpoint",
    "userPoolId",
    "userPoolClientId",
    "tenant",
    "local",
    "mqttUrl",
    "mqttAuthorizer",
    "mapTiles",
}


def _ref(synth: Synth, construct: Any) -> str:
    return str(synth.stack.resolve(construct.node.default_child.ref)["Ref"])


def _distribution(synth: Synth) -> dict[str, Any]:
    _, dist = synth.one("AWS::CloudFront::Distribution")
    return dict(dist["Properties"]["DistributionConfig"])


def _behaviour(synth: Synth, pattern: str) -> dict[str, Any]:
    (found,) = [b for b in _distribution(synth)["CacheBehaviors"] if b["PathPattern"] == pattern]
    return dict(found)


def _origin(synth: Synth, origin_id: str) -> dict[str, Any]:
    (found,) = [o for o in _distribution(synth)["Origins"] if o["Id"] == origin_id]
    return dict(found)


def _headers_policy(synth: Synth, ref: dict[str, str]) -> dict[str, Any]:
    return dict(synth.raw["Resources"][ref["Ref"]]["Properties"]["ResponseHeadersPolicyConfig"])


def _joined(value: Any) -> str:
    """A CloudFormation string (plain or Fn::Join) as text, references shown as <Ref>/<Logical.Attr>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_joined(v) for v in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return json.dumps(value)


def _config_json(synth: Synth) -> tuple[dict[str, Any], dict[str, str]]:
    """The deployed /config.json (markers resolved to the template values they stand for)."""
    (deploy,) = synth.resources("Custom::CDKBucketDeployment").values()
    props = deploy["Properties"]
    for key, markers in zip(props["SourceObjectKeys"], props["SourceMarkers"], strict=True):
        path = synth.outdir / f"asset.{key.removesuffix('.zip')}" / "config.json"
        if path.exists():
            text = path.read_text()
            values = {m: _joined(v) for m, v in markers.items()}
            for marker, value in values.items():
                text = text.replace(marker, value.strip('"'))
            return json.loads(text), values
    raise AssertionError("no config.json source in the console deployment")


# --- hosting ---------------------------------------------------------------------------------------


def test_console_bucket_is_private_and_read_only_through_origin_access_control(synth: Synth) -> None:
    """ARC-6, LCM-SEC-5, LCM-SEC-3: the site bucket blocks public access, has no public policy or website endpoint,
    and only this distribution (OAC, SigV4) may read it, over TLS."""
    bucket_id = synth.stack.resolve(synth.stack.console.bucket.bucket_name)["Ref"]
    props = synth.raw["Resources"][bucket_id]["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in props
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == synth.stack.resolve(
        synth.stack.storage.access_logs.bucket_name
    )
    (policy,) = [
        p for p in synth.resources("AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    dist_id = synth.stack.resolve(synth.stack.console.distribution.distribution_id)["Ref"]
    for st in policy["Properties"]["PolicyDocument"]["Statement"]:
        if st["Effect"] == "Deny":
            assert st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            continue
        assert st["Principal"] == {"Service": "cloudfront.amazonaws.com"}, st  # never "*"
        assert _as_list(st["Action"]) == ["s3:GetObject"]
        assert dist_id in _joined(st["Condition"]["StringEquals"]["AWS:SourceArn"])
    default = _distribution(synth)["DefaultCacheBehavior"]
    site = _origin(synth, default["TargetOriginId"])
    assert "OriginAccessControlId" in site and site["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    _, oac = synth.one("AWS::CloudFront::OriginAccessControl")
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["OriginAccessControlOriginType"], config["SigningBehavior"], config["SigningProtocol"]) == (
        "s3",
        "always",
        "sigv4",
    )


def test_https_only_with_redirect_and_no_plain_http_for_the_api(synth: Synth) -> None:
    """LCM-SEC-3: the console redirects HTTP to HTTPS; /v1 refuses HTTP (a bearer token never goes out in clear
    text ahead of a redirect); origins are reached over TLS 1.2."""
    dist = _distribution(synth)
    assert dist["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert _behaviour(synth, "/config.json")["ViewerProtocolPolicy"] == "redirect-to-https"
    assert _behaviour(synth, "/v1/*")["ViewerProtocolPolicy"] == "https-only"
    api_origin = _origin(synth, _behaviour(synth, "/v1/*")["TargetOriginId"])
    assert api_origin["CustomOriginConfig"] == {"OriginProtocolPolicy": "https-only", "OriginSSLProtocols": ["TLSv1.2"]}
    assert dist["DefaultRootObject"] == "index.html"
    assert dist["Logging"]["Bucket"] == synth.stack.resolve(synth.stack.console.log_bucket.bucket_regional_domain_name)


def test_security_headers_on_every_response(synth: Synth) -> None:
    """LCM-SEC-3, LCM-SEC-12: HSTS, a CSP allowing only itself, Cognito and the IoT wss endpoint, nosniff, frame DENY,
    referrer and permissions policies — on the site, config.json and the /v1 API."""
    dist = _distribution(synth)
    refs = [
        dist["DefaultCacheBehavior"]["ResponseHeadersPolicyId"],
        _behaviour(synth, "/v1/*")["ResponseHeadersPolicyId"],
        _behaviour(synth, "/config.json")["ResponseHeadersPolicyId"],
    ]
    endpoint = synth.stack.resolve(synth.stack.console.node.find_child("IotDataEndpoint").node.default_child.ref)
    for ref in refs:
        config = _headers_policy(synth, ref)
        sec = config["SecurityHeadersConfig"]
        hsts = sec["StrictTransportSecurity"]
        assert hsts["AccessControlMaxAgeSec"] >= 31_536_000 and hsts["IncludeSubdomains"] and hsts["Override"]
        assert sec["ContentTypeOptions"] == {"Override": True}
        assert sec["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
        assert sec["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
        csp = _joined(sec["ContentSecurityPolicy"]["ContentSecurityPolicy"])
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
        assert directives["connect-src"] == (
            f"'self' https://cognito-idp.<AWS::Region>.<AWS::URLSuffix> wss://<{endpoint['Ref']}.endpointAddress>"
        )
        custom = {h["Header"]: h["Value"] for h in config["CustomHeadersConfig"]["Items"]}
        assert "camera=()" in custom["Permissions-Policy"] and "geolocation=()" in custom["Permissions-Policy"]
    assert {h["Header"]: h["Value"] for h in _headers_policy(synth, refs[2])["CustomHeadersConfig"]["Items"]}[
        "Cache-Control"
    ] == "no-store"


def test_tile_host_is_allowed_only_when_configured() -> None:
    """ARC-6: a production tile template adds its host to img-src/connect-src; without one the CSP names none."""
    assert tile_source("https://{s}.tile.example.com/{z}/{x}/{y}.png") == "https://*.tile.example.com"
    assert tile_source("https://tiles.example.cn/{z}/{x}/{y}.png") == "https://tiles.example.cn"
    for bad in ("http://tiles.example.com/{z}.png", "https://a.{s}.example.com/{z}.png", "tiles/{z}"):
        with pytest.raises(ValueError):
            tile_source(bad)
    with_tiles = content_security_policy(iot_endpoint="x-ats.iot", tiles="https://{s}.t.example.com/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://*.t.example.com" in with_tiles
    assert "tile" not in content_security_policy(iot_endpoint="x-ats.iot", tiles=None)


def test_v1_is_proxied_to_the_api_stage_uncached_with_all_methods(synth: Synth) -> None:
    """ARC-6, LCM-SEC-5: /v1/* goes to the REST API's stage (same origin for the console, no CORS), never cached,
    with every method and every viewer header but Host (so Authorization reaches API Gateway)."""
    v1 = _behaviour(synth, "/v1/*")
    assert v1["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
    assert (
        v1["OriginRequestPolicyId"]
        == cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER.origin_request_policy_id
    )
    assert set(v1["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    origin = _origin(synth, v1["TargetOriginId"])
    api_ref = synth.stack.resolve(synth.stack.api.api.rest_api_id)["Ref"]
    assert f"<{api_ref}>.execute-api." in _joined(origin["DomainName"]["Fn::Select"][1]["Fn::Split"][1])
    # Origin path = "/" + the 4th "/"-part of https://<api>.execute-api.../<stage>/, i.e. /v1/x → /<stage>/v1/x.
    stage_ref = synth.stack.resolve(synth.stack.api.api.deployment_stage.stage_name)["Ref"]
    slash, select = origin["OriginPath"]["Fn::Join"][1]
    index, (separator, url) = select["Fn::Select"][0], select["Fn::Select"][1]["Fn::Split"]
    assert (slash, index, separator) == ("/", 3, "/")
    assert _joined(url).split("/")[3] == f"<{stage_ref}>"


def test_spa_routes_go_to_index_without_masking_api_errors(synth: Synth) -> None:
    """ARC-6, LCM-UI-1: client-side routes are rewritten to /index.html by a viewer-request function on the site
    only; no distribution-wide 403/404 → index.html error page turns the API's own errors into 200."""
    dist = _distribution(synth)
    assert not dist.get("CustomErrorResponses")
    (assoc,) = dist["DefaultCacheBehavior"]["FunctionAssociations"]
    assert assoc["EventType"] == "viewer-request"
    assert "FunctionAssociations" not in _behaviour(synth, "/v1/*")
    _, fn = synth.one("AWS::CloudFront::Function")
    assert fn["Properties"]["FunctionCode"] == SPA_ROUTES_JS
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    cases = ["/", "/devices/pk-00001-ab12", "/alarms", "/assets/index-1a.js", "/config.json", "/favicon.svg"]
    script = (
        SPA_ROUTES_JS
        + f"console.log(JSON.stringify({json.dumps(cases)}.map(u => handler({{request: {{uri: u}}}}).uri)))"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert json.loads(out) == [
        "/index.html",
        "/index.html",
        "/index.html",
        "/assets/index-1a.js",
        "/config.json",
        "/favicon.svg",
    ]


def test_config_json_is_deployed_with_the_stack_values_and_never_cached(synth: Synth) -> None:
    """ARC-6, SLW-WEB-7: the build and /config.json are deployed together; config.json carries region, pool, client,
    the IoT wss URL and the authorizer name (same keys as the local stack) and is served uncached."""
    config, markers = _config_json(synth)
    assert set(config) == CONFIG_KEYS
    pool = synth.stack.resolve(synth.stack.api.user_pool.user_pool_id)["Ref"]
    client = synth.stack.resolve(synth.stack.api.client.user_pool_client_id)["Ref"]
    endpoint = _ref(synth, synth.stack.console.node.find_child("IotDataEndpoint"))
    assert config["apiUrl"] == "" and config["local"] is False
    assert (config["region"], config["userPoolId"], config["userPoolClientId"]) == (
        "<AWS::Region>",
        f"<{pool}>",
        f"<{client}>",
    )
    assert config["mqttUrl"] == f"wss://<{endpoint}.endpointAddress>/mqtt"
    assert config["mqttAuthorizer"] == f"voltops-{STAGE}-console"
    assert config["cognitoEndpoint"] is None and config["tenant"] is None and config["mapTiles"] is None
    assert len(markers) == 4
    (deploy,) = synth.resources("Custom::CDKBucketDeployment").values()
    props = deploy["Properties"]
    assert len(props["SourceObjectKeys"]) == 2 and props["Prune"] is True
    assert props["DestinationBucketName"] == synth.stack.resolve(synth.stack.console.bucket.bucket_name)
    assert props["DistributionPaths"] == ["/*"]  # the new build and config are visible at once
    config_behaviour = _behaviour(synth, "/config.json")
    assert config_behaviour["CachePolicyId"] == cloudfront.CachePolicy.CACHING_DISABLED.cache_policy_id
    (dist_asset,) = [
        synth.outdir / f"asset.{k.removesuffix('.zip')}"
        for k in props["SourceObjectKeys"]
        if (synth.outdir / f"asset.{k.removesuffix('.zip')}" / "index.html").exists()
    ]
    assert not (dist_asset / "config.json").exists()  # a config.json in the build never shadows the stack's


def test_missing_console_build_fails_with_the_build_command(tmp_path: Path) -> None:
    """ARC-5: synth without a built console fails with a message naming the build command."""
    with pytest.raises(ConsoleNotBuiltError, match=r"make console.*npm --prefix console run build"):
        console_dist(tmp_path)
    (tmp_path / "index.html").write_text("<!doctype html>")
    assert console_dist(tmp_path) == tmp_path


# --- live channel ------------------------------------------------------------------------------------


def test_mqtt_custom_authorizer_invokes_only_the_console_auth_function(synth: Synth) -> None:
    """LCM-SEC-5, SLW-WEB-7: an ACTIVE IoT authorizer (token signing off: the MQTT password is the Cognito ID token)
    calls the console-auth function, which IoT may invoke for this authorizer only."""
    _, authorizer = synth.one("AWS::IoT::Authorizer")
    props = authorizer["Properties"]
    assert (props["AuthorizerName"], props["SigningDisabled"], props["Status"]) == (
        f"voltops-{STAGE}-console",
        True,
        "ACTIVE",
    )
    fn_id = props["AuthorizerFunctionArn"]["Fn::GetAtt"][0]
    assert synth.raw["Resources"][fn_id]["Properties"]["Handler"] == CONSOLE_AUTH_HANDLER
    permissions = [
        p["Properties"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [fn_id, "Arn"]}
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [fn_id, "Arn"]},
            "Principal": "iot.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "SourceArn": {"Fn::GetAtt": [synth.stack.resolve(synth.stack.console.authorizer.logical_id), "Arn"]},
        }
    ]


def test_authorizer_function_is_least_privilege(synth: Synth) -> None:
    """LCM-SEC-5, LCM-SEC-11: the authorizer may write its own logs and traces and read its encrypted settings —
    nothing else (the JWKS is public); it answers within IoT's 5 s and knows the pool it trusts."""
    fn = synth.stack.console.authorizer_function
    fn_id = synth.stack.resolve(fn.function_name)["Ref"]
    props = synth.raw["Resources"][fn_id]["Properties"]
    assert props["Timeout"] <= 5
    env = props["Environment"]["Variables"]
    assert {"USER_POOL_ID", "USER_POOL_CLIENT_ID", "JWT_ISSUER", "JWKS_URL"} <= set(env)
    statements = _statements_of_role(synth, {"Ref": props["Role"]["Fn::GetAtt"][0]})
    actions = {a for st in statements for a in _as_list(st["Action"])}
    assert actions <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "kms:Decrypt",
    }, actions
    log_group = synth.stack.resolve(fn.log_group.log_group_arn)
    (logs_statement,) = [st for st in statements if "logs:PutLogEvents" in _as_list(st["Action"])]
    assert _as_list(logs_statement["Resource"]) == [log_group]


def test_iot_endpoint_lookup_may_only_describe_the_endpoint(synth: Synth) -> None:
    """LCM-SEC-5: the deploy-time lookup of the ATS endpoint (mqttUrl, CSP) may call DescribeEndpoint only."""
    lookup = synth.stack.console.node.find_child("IotDataEndpoint")
    resource = synth.raw["Resources"][_ref(synth, lookup)]
    create = json.loads(_joined(resource["Properties"]["Create"]))
    assert (create["service"], create["action"], create["parameters"]) == (
        "Iot",
        "describeEndpoint",
        {"endpointType": "iot:Data-ATS"},
    )
    policy_id = synth.stack.resolve(lookup.node.find_child("CustomResourcePolicy").node.default_child.logical_id)
    statements = synth.raw["Resources"][policy_id]["Properties"]["PolicyDocument"]["Statement"]
    assert statements == [{"Action": "iot:DescribeEndpoint", "Effect": "Allow", "Resource": "*"}]


def test_console_user_pool_client_allows_the_console_sign_in(synth: Synth) -> None:
    """LCM-SEC-4, ARC-6: the app client allows the console's USER_PASSWORD_AUTH (and SRP for the apps) and refresh."""
    _, client = synth.one("AWS::Cognito::UserPoolClient")
    assert set(client["Properties"]["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }


def test_console_url_is_an_output(synth: Synth) -> None:
    """ARC-6: the stack outputs the console's HTTPS URL and the MQTT authorizer name."""
    outputs = synth.raw["Outputs"]
    dist_id = synth.stack.resolve(synth.stack.console.distribution.distribution_id)["Ref"]
    assert _joined(outputs["ConsoleUrl"]["Value"]) == f"https://<{dist_id}.DomainName>"
    assert outputs["ConsoleMqttAuthorizer"]["Value"] == f"voltops-{STAGE}-console"
