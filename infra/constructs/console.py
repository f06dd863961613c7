"""Console: the operator web console on a private S3 bucket behind CloudFront, same origin as the API,
and the AWS IoT Core custom authorizer its live channel (MQTT over WebSocket) connects through.

* **Hosting** — a private, versioned, SSL-only bucket read by CloudFront through origin access
  control (no public policy, no website endpoint). HTTPS only (HTTP is redirected; ``/v1`` is
  HTTPS-only so a bearer token never travels in clear text before a redirect). A CloudFront
  Function sends client-side routes (paths without a file extension) to ``/index.html``: custom
  error responses would do the same for 403/404, but they apply to every behaviour and would turn
  the API's own 403/404 answers into ``200 index.html``. Security headers (HSTS, CSP, nosniff,
  frame DENY, referrer and permissions policies) on every response.
* **Same origin** — ``/v1/*`` goes to the API Gateway stage (caching disabled, every viewer
  header but ``Host``, so ``Authorization`` reaches the API), hence no CORS for the console.
* **Runtime configuration** — ``/config.json`` (never cached) is written at deploy time next to
  the build with the stack's values: region, user pool and client, the IoT ATS endpoint's
  ``wss://.../mqtt`` URL and the authorizer name, the map tile template.
* **Live channel** — ``iot.CfnAuthorizer`` (signing disabled: the MQTT password is the Cognito ID
  token, which the function verifies) for ``functions.console_auth.handler``; IoT Core may invoke
  the function for this authorizer only.

Context: ``console_dist`` (the built console, default ``console/dist``; synth fails if it has no
``index.html``), ``console_tiles`` (optional map tile URL template such as
``https://{s}.tiles.example.com/{z}/{x}/{y}.png``; unset = the console's offline base map).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from aws_cdk import Aws, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from constructs import Construct, IConstruct

from infra.constructs.api import Api
from infra.constructs.compliance import acknowledge, arn_token
from infra.constructs.lambda_defaults import LOG_RETENTION, REPO_ROOT, FunctionSpec, LambdaFactory
from infra.constructs.storage import Storage

CONSOLE_AUTH_HANDLER = "functions.console_auth.handler.handler"
CONSOLE_AUTH_SERVICE = "console-auth"
DEFAULT_DIST = "console/dist"
CONFIG_OBJECT = "config.json"
#: HSTS for two years (the preload list's minimum is one).
HSTS_MAX_AGE = Duration.days(730)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"

#: Viewer-request rewrite of client-side routes to the single-page app's entry point.
SPA_ROUTES_JS = """\
function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}
"""


class ConsoleNotBuiltError(RuntimeError):
    """The console build (``index.html``) is missing where ``console_dist`` points."""


def console_dist(context_value: object) -> Path:
    """The built console directory from context (relative paths are from the repository root)."""
    path = Path(str(context_value or DEFAULT_DIST))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not (path / "index.html").is_file():
        raise ConsoleNotBuiltError(
            f"the operator console is not built: {path / 'index.html'} is missing. Build it first with "
            "`make console` (or `npm --prefix console ci && npm --prefix console run build`), or point the "
            "CDK context `console_dist` at a built console, before `cdk synth`/`cdk deploy`."
        )
    return path


def tile_source(template: str) -> str:
    """The CSP source of a map tile URL template: ``https://{s}.tile.example.com/{z}/{x}/{y}.png``
    → ``https://*.tile.example.com``. Only a whole leftmost label may vary (CSP's host wildcard)."""
    parts = urlsplit(template)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"console_tiles must be an https:// URL template, got {template!r}")
    host = parts.netloc
    labels = host.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    if any("{" in label for label in labels):
        raise ValueError(f"console_tiles: only the leftmost host label may be a template, got {host!r}")
    return f"https://{'.'.join(labels)}"


def content_security_policy(*, iot_endpoint: str, tiles: str | None) -> str:
    """The console's CSP: its own scripts only; XHR/WebSocket to itself, Cognito and IoT Core."""
    tile = f" {tile_source(tiles)}" if tiles else ""
    cognito = f"https://cognito-idp.{Aws.REGION}.{Aws.URL_SUFFIX}"
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        # Element Plus and ECharts set inline styles at run time; scripts stay 'self' only.
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{tile}",
        "font-src 'self' data:",
        f"connect-src 'self' {cognito} wss://{iot_endpoint}{tile}",
        "worker-src 'self' blob:",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


class Console(Construct):
    """The console's bucket, CloudFront distribution, runtime configuration and MQTT authorizer."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        storage: Storage,
        api: Api,
        lambdas: LambdaFactory,
        dist: Path,
        tiles: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if tiles:
            tile_source(tiles)  # fail the synth on an unusable template, not the browser
        self._build_authorizer(stage, api, lambdas)
        iot_endpoint = self._iot_data_endpoint(storage.key)
        self.mqtt_url = f"wss://{iot_endpoint}/mqtt"

        # Static files served to anyone who opens the console: no secrets, so SSE-S3 (no KMS
        # request per origin fetch); versioned so a bad deploy can be rolled back object by object.
        self.bucket = s3.Bucket(
            self,
            "Site",
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=storage.access_logs,
            server_access_logs_prefix="console/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-old-builds",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudFront standard logs are delivered with object ACLs (awslogsdelivery), which the
        # BucketOwnerEnforced access-log bucket refuses: a bucket of their own, ACLs enabled for
        # that delivery only, still private (no public ACL or policy can be set).
        self.log_bucket = s3.Bucket(
            self,
            "CdnLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            versioned=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            server_access_logs_bucket=storage.access_logs,
            server_access_logs_prefix="cloudfront-logs/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-cdn-logs",
                    expiration=Duration.days(400),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

        security = self._security_headers(stage, iot_endpoint, tiles)
        no_store = self._security_headers(stage, iot_endpoint, tiles, no_store=True)
        site = origins.S3BucketOrigin.with_origin_access_control(self.bucket)
        spa_routes = cloudfront.Function(
            self,
            "SpaRoutes",
            comment="Client-side routes of the console -> /index.html",
            code=cloudfront.FunctionCode.from_inline(SPA_ROUTES_JS),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"VoltOps {stage} operator console and /v1 API",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=site,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=security,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=spa_routes, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                f"/{CONFIG_OBJECT}": cloudfront.BehaviorOptions(
                    origin=site,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    response_headers_policy=no_store,
                ),
                "/v1/*": cloudfront.BehaviorOptions(
                    # The stage is the origin path: /v1/devices → /<stage>/v1/devices.
                    origin=origins.RestApiOrigin(api.api),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    # With caching disabled this managed policy also forwards Authorization;
                    # Host must not reach API Gateway (it answers 403 for a foreign host).
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=security,
                ),
            },
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_ipv6=True,
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="console/",
        )
        acknowledge(
            self.distribution,
            {
                "AwsSolutions-CFR1": (
                    "No geo restriction: operators and their devices work across regions and countries, and "
                    "every request needs a Cognito identity anyway; a country list would lock out travelling staff."
                ),
                "AwsSolutions-CFR2": (
                    "No WAF web ACL yet: a CloudFront WAF must live in us-east-1 and is not available in the "
                    "China partition; the API behind /v1 keeps Cognito, stage throttling and per-tenant checks. "
                    "A WAF with rate-based rules is planned for this distribution (same open item as APIG3)."
                ),
                "AwsSolutions-CFR4": (
                    "The distribution uses the default *.cloudfront.net certificate, for which CloudFront fixes "
                    "the viewer security policy; serving the console on a custom domain with an ACM certificate "
                    "and TLSv1.2_2021 is a deployment option, not available without a domain."
                ),
            },
        )

        self.config = {
            "apiUrl": "",  # same origin: CloudFront routes /v1/* to the API
            "region": Aws.REGION,
            "cognitoEndpoint": None,  # the region's Cognito
            "userPoolId": api.user_pool.user_pool_id,
            "userPoolClientId": api.client.user_pool_client_id,
            "tenant": None,  # the token decides
            "local": False,
            "mqttUrl": self.mqtt_url,
            "mqttAuthorizer": self.authorizer_name,
            "mapTiles": tiles or None,
        }
        deploy_logs = logs.LogGroup(
            self,
            "DeployLogs",
            retention=LOG_RETENTION,
            encryption_key=storage.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            destination_bucket=self.bucket,
            sources=[
                s3deploy.Source.asset(str(dist), exclude=[CONFIG_OBJECT]),
                # Written as text (tokens become deploy-time values inside the JSON strings) so that
                # the null keys stay in the file; json_data would drop them.
                s3deploy.Source.data(CONFIG_OBJECT, json.dumps(self.config, indent=1)),
            ],
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=512,
            log_group=deploy_logs,
        )
        self._acknowledge_deployment()
        self.url = f"https://{self.distribution.distribution_domain_name}"

    # -- live channel ---------------------------------------------------------------------
    def _build_authorizer(self, stage: str, api: Api, lambdas: LambdaFactory) -> None:
        self.authorizer_function = lambdas.function(
            "AuthorizerFunction",
            FunctionSpec(
                handler=CONSOLE_AUTH_HANDLER,
                service=CONSOLE_AUTH_SERVICE,
                description="VoltOps console MQTT authorizer (IoT Core custom auth, Cognito ID token)",
                settings={
                    "user_pool_id": api.user_pool.user_pool_id,
                    "user_pool_client_id": api.client.user_pool_client_id,
                    "jwt_issuer": api.user_pool.user_pool_provider_url,
                    "jwks_url": f"{api.user_pool.user_pool_provider_url}/.well-known/jwks.json",
                },
                memory_size=256,
                # IoT Core waits at most 5 s for a custom authorizer.
                timeout_seconds=5,
            ),
        )
        self.authorizer_name = f"voltops-{stage}-console"
        self.authorizer = iot.CfnAuthorizer(
            self,
            "MqttAuthorizer",
            authorizer_name=self.authorizer_name,
            authorizer_function_arn=self.authorizer_function.function_arn,
            # The credential is the Cognito ID token in the MQTT password, verified (signature,
            # issuer, audience, expiry) by the function: IoT's token signing does not apply.
            signing_disabled=True,
            status="ACTIVE",
        )
        self.authorizer_function.add_permission(
            "IotCoreInvoke",
            principal=iam.ServicePrincipal("iot.amazonaws.com"),
            action="lambda:InvokeFunction",
            source_arn=self.authorizer.attr_arn,
            source_account=Aws.ACCOUNT_ID,
        )

    def _iot_data_endpoint(self, key: kms.IKey) -> str:
        """The account's ATS data endpoint (``xxxx-ats.iot.<region>.amazonaws.com``), looked up at deploy."""
        call = cr.AwsSdkCall(
            service="Iot",
            action="describeEndpoint",
            parameters={"endpointType": "iot:Data-ATS"},
            physical_resource_id=cr.PhysicalResourceId.of("iot-data-ats-endpoint"),
        )
        lookup = cr.AwsCustomResource(
            self,
            "IotDataEndpoint",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
            install_latest_aws_sdk=False,
            log_group=logs.LogGroup(
                self,
                "EndpointLookupLogs",
                retention=LOG_RETENTION,
                encryption_key=key,
                removal_policy=RemovalPolicy.RETAIN,
            ),
        )
        acknowledge(
            lookup,
            {
                "AwsSolutions-IAM5[Resource::*]": (
                    "iot:DescribeEndpoint has no resource-level permissions, so the deploy-time lookup of the "
                    "IoT data endpoint can only be granted on '*'; it is this policy's only action."
                ),
            },
        )
        provider = _singleton(self, "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", ""))
        acknowledge(
            provider,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": (
                    "CDK's AwsCustomResource provider (one deploy-time lookup of the IoT data endpoint) uses the "
                    "AWS managed basic execution role for its own logs; it runs only during deployments."
                ),
            },
        )
        return str(lookup.get_response_field("endpointAddress"))

    def _security_headers(
        self, stage: str, iot_endpoint: str, tiles: str | None, *, no_store: bool = False
    ) -> cloudfront.ResponseHeadersPolicy:
        custom = [cloudfront.ResponseCustomHeader(header="Permissions-Policy", value=PERMISSIONS_POLICY, override=True)]
        if no_store:
            custom.append(cloudfront.ResponseCustomHeader(header="Cache-Control", value="no-store", override=True))
        return cloudfront.ResponseHeadersPolicy(
            self,
            "NoStoreHeaders" if no_store else "SecurityHeaders",
            comment=f"VoltOps {stage} console security headers" + (" (no-store)" if no_store else ""),
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(iot_endpoint=iot_endpoint, tiles=tiles),
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(custom_headers=custom),
        )

    def _acknowledge_deployment(self) -> None:
        handler = _singleton(self, "Custom::CDKBucketDeployment", prefix=True)
        acknowledge(
            handler,
            {
                f"AwsSolutions-IAM5[Resource::{_asset_bucket_objects(Stack.of(self))}]": (
                    "CDK's BucketDeployment reads the uploaded console build from the CDK bootstrap asset bucket; "
                    "the wildcard covers that bucket's objects only, read-only."
                ),
                f"AwsSolutions-IAM5[Resource::{arn_token(self.bucket)}/*]": (
                    "CDK's BucketDeployment writes and prunes the console build in the console bucket; the "
                    "wildcard covers the objects of that one bucket."
                ),
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": (
                    "CDK's BucketDeployment function (copies the console build at deploy time) comes with the AWS "
                    "managed basic execution role; it runs only during deployments and writes to its own logs."
                ),
                "AwsSolutions-IAM5[Action::s3:GetBucket*]": (
                    "CDK's BucketDeployment grant on the CDK asset bucket and the console bucket only: it reads "
                    "the uploaded build and syncs it (list, get, put, delete) into the console bucket."
                ),
                "AwsSolutions-IAM5[Action::s3:GetObject*]": (
                    "CDK's BucketDeployment grant on the CDK asset bucket and the console bucket only: it reads "
                    "the uploaded build and syncs it (list, get, put, delete) into the console bucket."
                ),
                "AwsSolutions-IAM5[Action::s3:List*]": (
                    "CDK's BucketDeployment grant on the CDK asset bucket and the console bucket only: it reads "
                    "the uploaded build and syncs it (list, get, put, delete) into the console bucket."
                ),
                "AwsSolutions-IAM5[Action::s3:DeleteObject*]": (
                    "CDK's BucketDeployment prunes files of the previous build from the console bucket (and only "
                    "that bucket), so stale assets do not linger after a deploy."
                ),
                "AwsSolutions-IAM5[Action::s3:Abort*]": (
                    "CDK's BucketDeployment aborts its own failed multipart uploads into the console bucket; the "
                    "grant covers that bucket's objects only."
                ),
                "AwsSolutions-IAM5[Resource::*]": (
                    "cloudfront:CreateInvalidation/GetInvalidation have no resource scoping in CDK's "
                    "BucketDeployment; the function invalidates the console distribution after each deploy."
                ),
                "AwsSolutions-L1": (
                    "The runtime of CDK's BucketDeployment function is chosen by aws-cdk-lib (pinned in uv.lock) "
                    "and moves with CDK upgrades; the function runs only during deployments."
                ),
            },
        )


def _asset_bucket_objects(stack: Stack) -> str:
    """How cdk-nag names the objects of the CDK bootstrap asset bucket (BucketDeployment's source)."""
    qualifier = getattr(stack.synthesizer, "bootstrap_qualifier", None) or "hnb659fds"
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    return f"arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-{account}-{region}/*"


def _singleton(scope: Construct, construct_id: str, *, prefix: bool = False) -> IConstruct:
    """A stack-level singleton that CDK creates for a construct (custom-resource providers)."""
    stack = Stack.of(scope)
    for child in stack.node.children:
        cid = child.node.id
        if cid == construct_id or (prefix and cid.startswith(construct_id)):
            return child
    raise LookupError(f"no singleton {construct_id!r} in {stack.node.path}")
