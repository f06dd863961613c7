"""Lambda defaults in one place: runtime, architecture, packaging, logging, tracing, settings.

Packaging works offline and without docker:

- code: one asset with the repository's ``shared/`` and ``functions/`` packages only
  (an allow-list, so a new top-level directory such as ``console/`` or ``.venv`` can never
  leak into the bundle);
- third-party packages: a layer from ``build/lambda-layer/`` that
  ``scripts/build_lambda_layer.sh`` fills with manylinux x86_64 wheels for CPython 3.11 at
  install time. Nothing is downloaded at synth time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.compliance import acknowledge
from shared.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_LAYER_DIR = REPO_ROOT / "build" / "lambda-layer"

#: The runtime the code is tested against (pyproject: requires-python >=3.11,<3.12).
RUNTIME = lambda_.Runtime.PYTHON_3_11
#: Must match the wheels in the layer: the build script asks pip for manylinux2014_x86_64.
ARCHITECTURE = lambda_.Architecture.X86_64
#: LCM-SEC-11 asks for at least six months. SIX_MONTHS is 180 days, which is shorter than some
#: calendar half-years, so keep a full year.
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
METRICS_NAMESPACE = Settings.model_fields["metrics_namespace"].default

#: Docker-style ignore rules applied to the repository root: drop everything, then re-admit the
#: two packages Lambda imports, minus byte-code and test leftovers.
CODE_ASSET_EXCLUDE = (
    "*",
    "!shared",
    "!functions",
    "**/__pycache__",
    "**/*.pyc",
    "**/.pytest_cache",
    "**/.mypy_cache",
    "**/.ruff_cache",
)


class LayerNotBuiltError(RuntimeError):
    """``build/lambda-layer`` is missing: the install step has not run."""


def settings_environment(values: Mapping[str, str]) -> dict[str, str]:
    """Environment variables for :class:`shared.settings.Settings` fields (``devices_table`` -> ``DEVICES_TABLE``).

    Refuses names that are not Settings fields, so a typo fails the synth instead of silently
    leaving a function on the default value.
    """
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise ValueError(f"not fields of shared.settings.Settings: {unknown}")
    return {name.upper(): value for name, value in values.items()}


def dependencies_layer_code(layer_dir: Path) -> lambda_.Code:
    """The layer asset, or a clear error telling the user to run the install step."""
    if not (layer_dir / "python").is_dir():
        raise LayerNotBuiltError(
            f"Lambda layer directory {layer_dir / 'python'} is missing. Run the install step "
            "(scripts/build_lambda_layer.sh, e.g. via `make install`) before `cdk synth`/`cdk deploy`; "
            "it fills build/lambda-layer with the pinned third-party packages (no download happens at synth)."
        )
    return lambda_.Code.from_asset(str(layer_dir), exclude=["**/__pycache__", "**/*.pyc"])


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between functions; everything else is a platform default."""

    handler: str
    service: str  # POWERTOOLS_SERVICE_NAME: also the ``service`` dimension of Powertools metrics
    description: str
    settings: Mapping[str, str]
    memory_size: int = 512
    timeout_seconds: int = 30
    #: None = draw from the account pool. A fresh account's concurrency quota can be as low as
    #: 10, and reserving from it fails the deploy, so reservations come from stage context.
    reserved_concurrency: int | None = None
    #: Further actions without resource-level permissions this function is granted on "*".
    wildcard_resource_reason: str = ""


class LambdaFactory(Construct):
    """Builds every VoltOps function with the same code asset, layer and defaults."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        key: kms.IKey,
        layer_dir: Path = DEFAULT_LAYER_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        self._stage = stage
        self._key = key
        self.code = lambda_.Code.from_asset(
            str(REPO_ROOT), exclude=list(CODE_ASSET_EXCLUDE), ignore_mode=IgnoreMode.DOCKER
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=dependencies_layer_code(layer_dir),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="VoltOps third-party packages (pydantic, pynamodb, powertools, chalice, PyJWT)",
        )

    def function(self, construct_id: str, spec: FunctionSpec) -> lambda_.Function:
        scope = Construct(self, construct_id)
        # Our own log group: retention and encryption are set here instead of being left to
        # the implicit /aws/lambda group (never-expire, unencrypted). Kept on stack deletion:
        # logs are records (LCM-SEC-11).
        log_group = logs.LogGroup(
            scope,
            "Logs",
            retention=LOG_RETENTION,
            encryption_key=self._key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, whose
        # logs:* statement covers every log group in the account (LCM-SEC-5).
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"VoltOps {spec.service} function ({self._stage})",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        environment = {
            **settings_environment({"stage": self._stage, "metrics_namespace": METRICS_NAMESPACE, **spec.settings}),
            "POWERTOOLS_SERVICE_NAME": spec.service,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        fn = lambda_.Function(
            scope,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=self.code,
            layers=[self.layer],
            description=spec.description,
            memory_size=spec.memory_size,
            timeout=Duration.seconds(spec.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            role=role,
            environment=environment,
            environment_encryption=self._key,
            reserved_concurrent_executions=spec.reserved_concurrency,
        )
        acknowledge(
            fn,
            {
                "AwsSolutions-L1": (
                    "Pinned to Python 3.11 on purpose: it is the interpreter the code, the lock file and "
                    "the layer wheels are built and tested for (pyproject requires-python <3.12). "
                    "Moving to a newer runtime is a deliberate upgrade of all three together."
                ),
            },
        )
        acknowledge(
            role,
            {
                "AwsSolutions-IAM5[Resource::*]": (
                    "X-Ray PutTraceSegments/PutTelemetryRecords and CloudWatch PutMetricData have no "
                    "resource-level permissions; PutMetricData is restricted to the VoltOps namespace "
                    "with a cloudwatch:namespace condition instead. " + spec.wildcard_resource_reason
                ),
            },
        )
        return fn

    def allow_metrics(self, fn: lambda_.Function) -> None:
        """PutMetricData for the VoltOps namespace only (the action has no resource ARNs)."""
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )


__all__ = [
    "ARCHITECTURE",
    "DEFAULT_LAYER_DIR",
    "LOG_RETENTION",
    "METRICS_NAMESPACE",
    "RUNTIME",
    "FunctionSpec",
    "LambdaFactory",
    "LayerNotBuiltError",
    "settings_environment",
]


def failure_queue(scope: Construct, construct_id: str, key: kms.IKey, why_no_dlq: str) -> sqs.Queue:
    """An encrypted, SSL-only queue that is itself a final failure destination (kept 14 days)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        removal_policy=RemovalPolicy.RETAIN,
    )
    acknowledge(queue, {"AwsSolutions-SQS3": why_no_dlq})
    return queue
