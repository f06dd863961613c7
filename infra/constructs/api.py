"""API: the Chalice app behind API Gateway (REST), and the Cognito user pool that signs its callers.

Deployed without the SAM transform that ``chalice.cdk`` emits, so that cdk-nag and cfn-lint
see every resource: a plain Lambda function whose handler is the Chalice app object (an API
Gateway proxy-event handler) and a RestApi built here.

Why the API mirrors the Chalice route table instead of a ``/v1/{proxy+}`` resource: at run
time Chalice dispatches on ``requestContext.resourcePath`` (chalice/app.py,
``_main_rest_api_handler``), so behind a greedy proxy every request arrives as
``/v1/{proxy+}``, matches no route and is answered 405. Each Chalice route therefore gets its
own API Gateway resource and methods. The app module is imported at synth time for its route
table only (it does no work at import, by convention); while it does not exist yet, a
``/v1/{proxy+}`` placeholder keeps the synth working and a warning says why.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_events as events
from aws_cdk import aws_iot as iot
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.alarms import grant_device_messaging
from infra.constructs.compliance import KMS_GRANT_REASONS, acknowledge, arn_token
from infra.constructs.iot import device_registration_statements
from infra.constructs.lambda_defaults import LOG_RETENTION, FunctionSpec, LambdaFactory
from infra.constructs.storage import Storage

API_APP_MODULE = "functions.api.app"
API_HANDLER = f"{API_APP_MODULE}.app"
API_SERVICE = "api"
API_PREFIX = "/v1"
#: Steady-state and burst limits per stage (requests/second), before the account quota.
THROTTLE_RATE = 200
THROTTLE_BURST = 400
TENANT_ATTRIBUTE = "tenant_id"


@dataclass(frozen=True)
class RouteCors:
    allow_origin: str
    allow_headers: tuple[str, ...]
    max_age: int | None
    allow_credentials: bool


@dataclass(frozen=True)
class Route:
    path: str
    methods: tuple[str, ...]
    cors: RouteCors | None = None
    #: Methods the app serves without authentication (e.g. its OpenAPI document).
    public_methods: tuple[str, ...] = ()


#: functions/api/http.py attaches each view's RouteDoc under this attribute; a RouteDoc with
#: ``authenticated=False`` marks a public route.
ROUTE_DOC_ATTR = "__voltops_route__"


def chalice_routes(module_name: str = API_APP_MODULE) -> tuple[Route, ...] | None:
    """The Chalice app's route table, or None while the app module does not exist yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    routes: Mapping[str, Mapping[str, object]] = module.app.routes
    result = []
    for path, entries in sorted(routes.items()):
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            raise ValueError(f"Chalice route {path!r} must live under {API_PREFIX} (the API is versioned)")
        cors = None
        public = tuple(
            sorted(
                method
                for method, entry in entries.items()
                if getattr(getattr(entry, "view_function", None), ROUTE_DOC_ATTR, None) is not None
                and getattr(entry.view_function, ROUTE_DOC_ATTR).authenticated is False
            )
        )
        for entry in entries.values():
            config = getattr(entry, "cors", None)
            if config is not None:
                cors = RouteCors(
                    allow_origin=config.allow_origin,
                    allow_headers=tuple(config.allow_headers.split(",")),
                    max_age=getattr(config, "_max_age", None),
                    allow_credentials=bool(getattr(config, "_allow_credentials", False)),
                )
        result.append(Route(path=path, methods=tuple(sorted(entries)), cors=cors, public_methods=public))
    return tuple(result)


class Api(Construct):
    """User pool + app client, the API function and the REST API in front of it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        storage: Storage,
        bus: events.IEventBus,
        device_policy: iot.CfnPolicy,
        lambdas: LambdaFactory,
        routes: tuple[Route, ...] | None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._build_user_pool(stage)

        t = storage.tables
        self.function = lambdas.function(
            "ApiFunction",
            FunctionSpec(
                handler=API_HANDLER,
                service=API_SERVICE,
                description="VoltOps REST API (Chalice app)",
                settings={
                    **{setting: table.table_name for setting, table in t.items()},
                    "archive_bucket": storage.archive.bucket_name,
                    "quarantine_bucket": storage.quarantine.bucket_name,
                    "event_bus": bus.event_bus_name,
                    "user_pool_id": self.user_pool.user_pool_id,
                    "user_pool_client_id": self.client.user_pool_client_id,
                    # Issuer and JWKS from the pool's provider URL, which carries the partition's
                    # URL suffix (amazonaws.com.cn in China), instead of a hand-built URL.
                    "jwt_issuer": self.user_pool.user_pool_provider_url,
                    "jwks_url": f"{self.user_pool.user_pool_provider_url}/.well-known/jwks.json",
                    "device_policy_name": device_policy.ref,
                },
                memory_size=512,
                # API Gateway gives up on an integration after 29 s.
                timeout_seconds=29,
                reserved_concurrency=reserved_concurrency,
                wildcard_resource_reason=(
                    "Device registration also needs iot:DescribeEndpoint, iot:CreateKeysAndCertificate and "
                    "iot:CreateCertificateFromCsr, which IAM only grants on '*'."
                ),
            ),
        )
        for setting in ("devices_table", "device_models_table", "battery_identities_table"):
            t[setting].grant_read_write_data(self.function)
        for setting in ("latest_state_table", "history_table"):
            t[setting].grant_read_data(self.function)
        # Alarms, commands and notifications: acknowledge/clear (a manual clear also forgets the
        # engine state), rule-set versions, commands to devices, inboxes and policies.
        alarm_tables = (
            "alarms_table",
            "alarm_timeline_table",
            "alarm_state_table",
            "alarm_rules_table",
            "commands_table",
            "notifications_table",
            "notification_policies_table",
        )
        for setting in alarm_tables:
            t[setting].grant_read_write_data(self.function)
        bus.grant_put_events_to(self.function)
        lambdas.allow_metrics(self.function)
        for statement in device_registration_statements():
            self.function.add_to_role_policy(statement)
        grant_device_messaging(self.function)  # command topics + console topics
        acknowledge(
            self.function.role,  # type: ignore[arg-type]
            {
                **KMS_GRANT_REASONS,
                f"AwsSolutions-IAM5[Resource::{arn_token(t['devices_table'])}/index/*]": (
                    "The API lists a tenant's devices and looks things up through the devices table's "
                    "by-thing index; the wildcard covers that table's indexes only."
                ),
                **storage.index_findings(
                    "CDK's read/write grant on the alarm pipeline's tables includes their indexes; the API lists "
                    "alarms by time, device and status and commands by device through them.",
                    *alarm_tables,
                ),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:thing/*]": (
                    "Device registration creates and describes things whose names are derived at run time "
                    "from tenant and serial; scoped to things of this account and region."
                ),
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:cert/*]": (
                    "Registration activates/revokes and attaches certificates that IoT creates at run time "
                    "(ids unknown in advance); scoped to certificates of this account and region."
                ),
            },
        )

        self._build_rest_api(stage, storage, routes)

    def _build_user_pool(self, stage: str) -> None:
        # No users are created here (nothing with a known password exists); staff and
        # customers are provisioned by the platform with AdminCreateUser, which is also the
        # only way to set the immutable tenant attribute.
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"voltops-{stage}-users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            # The tenant comes from the verified identity, never from a request field: set
            # once at creation, immutable afterwards, and not writable through the app client.
            custom_attributes={TENANT_ATTRIBUTE: cognito.StringAttribute(min_len=1, max_len=64, mutable=False)},
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Plus plan with full threat protection: compromised-credential and adaptive
            # (risk-based) authentication checks on every sign-in (LCM-SEC-12).
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.user_pool,
            {
                "AwsSolutions-COG2": (
                    "MFA is optional (TOTP only, no SMS) because end customers of the rental and "
                    "charging apps sign in through the same pool and cannot all be forced onto an "
                    "authenticator app; enforcing TOTP for staff roles is a separate open item (LCM-SEC-4)."
                ),
            },
        )
        self.client = self.user_pool.add_client(
            "ApiClient",
            user_pool_client_name=f"voltops-{stage}-api",
            generate_secret=False,  # public clients (mobile apps, browser console) cannot keep one
            # USER_PASSWORD_AUTH is the console's sign-in (one flow in both runtimes: moto verifies the
            # password only in this flow); SRP stays for the apps; refresh tokens are always allowed.
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            disable_o_auth=True,  # no hosted UI / redirect flows yet, so none are enabled
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, fullname=True, locale=True, timezone=True)
            .with_custom_attributes(TENANT_ATTRIBUTE),
            # tenant_id deliberately absent: a user must not be able to move to another tenant.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                fullname=True, locale=True, timezone=True
            ),
        )

    def _build_rest_api(self, stage: str, storage: Storage, routes: tuple[Route, ...] | None) -> None:
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=LOG_RETENTION,
            encryption_key=storage.key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Defence in depth: API Gateway rejects a request without a valid ID token of this pool
        # before the function runs; the app still verifies the JWT and its tenant/role claims.
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self, "Authorizer", cognito_user_pools=[self.user_pool], results_cache_ttl=Duration.minutes(5)
        )
        self.api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"voltops-{stage}-api",
            description="VoltOps REST API (mobile apps and operator console)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway needs an account-level role to write execution and access logs.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=stage,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # full request/response bodies would log tokens and PII
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=THROTTLE_RATE,
                throttling_burst_limit=THROTTLE_BURST,
            ),
        )
        # Parameters and bodies are validated against whatever the methods declare; bodies
        # have no API Gateway models (the app validates them with the pydantic contracts).
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_parameters=True, validate_request_body=True
        )
        # One Lambda permission for the whole API rather than one per method: with a route
        # per Chalice view, per-method permissions would outgrow the 20 KB function policy.
        integration = apigw.LambdaIntegration(self.function, proxy=True, scope_permission_to_method=False)
        method_options = {
            "authorizer": self.authorizer,
            "authorization_type": apigw.AuthorizationType.COGNITO,
            "request_validator": self.validator,
        }

        if routes is None:
            Annotations.of(self).add_warning_v2(
                "voltops:api-placeholder",
                f"{API_APP_MODULE} not found: deploying a /v1/{{proxy+}} placeholder. Chalice dispatches on "
                "the API Gateway resource path, so only a synth with the app present gives working routes.",
            )
            routes = (Route(path=f"{API_PREFIX}/{{proxy+}}", methods=("ANY",)),)

        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in routes:
            resource = self.api.root.resource_for_path(route.path)
            for method in route.methods:
                if method in route.public_methods:
                    public = resource.add_method(
                        method,
                        integration,
                        authorization_type=apigw.AuthorizationType.NONE,
                        request_validator=self.validator,
                    )
                    acknowledge(
                        public,
                        {
                            "AwsSolutions-APIG4": (
                                f"{method} {route.path} is public by the app's own declaration "
                                "(RouteDoc authenticated=False); it serves no tenant data."
                            ),
                            "AwsSolutions-COG4": (
                                f"{method} {route.path} is public by the app's own declaration "
                                "(RouteDoc authenticated=False), so no Cognito authorizer applies."
                            ),
                        },
                    )
                    self.methods[(route.path, method)] = public
                    continue
                self.methods[(route.path, method)] = resource.add_method(method, integration, **method_options)
            if route.cors is not None:
                preflight = resource.add_cors_preflight(
                    allow_origins=[route.cors.allow_origin],
                    allow_headers=list(route.cors.allow_headers),
                    allow_methods=list(route.methods),
                    allow_credentials=route.cors.allow_credentials,
                    max_age=Duration.seconds(route.cors.max_age) if route.cors.max_age else None,
                )
                acknowledge(
                    preflight,
                    {
                        "AwsSolutions-APIG4": (
                            "CORS preflight (OPTIONS) is answered by a mock integration; browsers send it "
                            "without credentials by specification, so it cannot carry an authorizer."
                        ),
                        "AwsSolutions-COG4": (
                            "CORS preflight (OPTIONS) is answered by a mock integration and cannot carry "
                            "the Cognito authorizer; it returns headers only, never data."
                        ),
                    },
                )

        acknowledge(
            self.api,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]": (
                    "The account-level API Gateway logging role uses the AWS managed policy made for "
                    "exactly that purpose; API Gateway needs it to write access and execution logs."
                ),
                "AwsSolutions-APIG3": (
                    "No WAF web ACL yet: the API is protected by Cognito, stage throttling and per-tenant "
                    "checks in the app; a WAF with rate-based rules is planned with the CloudFront front door."
                ),
            },
        )
