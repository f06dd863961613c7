"""The CDK app: one VoltOpsStack per stage, checked by cdk-nag's AWS Solutions pack.

    npx cdk synth -c stage=dev [-c region=us-east-1]

Context: ``stage`` (default dev), ``region`` (default us-east-1), and optionally
``ingest_reserved_concurrency`` / ``api_reserved_concurrency`` (integers; unset leaves the
functions on the account's unreserved pool).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.constructs.lambda_defaults import DEFAULT_LAYER_DIR
from infra.stack import VoltOpsStack

DEFAULT_STAGE = "dev"
DEFAULT_REGION = "us-east-1"
STACK_ID = "VoltOpsStack"
#: CDK feature flags, set here rather than in cdk.json so that tests (which build the app
#: without the CLI) synthesize exactly what `cdk deploy` does.
FEATURE_FLAGS: dict[str, object] = {
    # Grant S3 server-access-log delivery through a bucket policy instead of the legacy ACL,
    # which is incompatible with BucketOwnerEnforced object ownership.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    # Merge IAM statements so the generated policies stay small and readable.
    "@aws-cdk/aws-iam:minimizePolicies": True,
}


def _optional_int(app: cdk.App, key: str) -> int | None:
    value = app.node.try_get_context(key)
    return None if value in (None, "") else int(value)


def build_app(
    *,
    context: Mapping[str, object] | None = None,
    outdir: str = "cdk.out",
    account: str | None = None,
    layer_dir: Path = DEFAULT_LAYER_DIR,
    **stack_kwargs: object,
) -> tuple[cdk.App, VoltOpsStack]:
    """Build the app and its stack (cdk-nag attached); the caller synthesizes."""
    app = cdk.App(outdir=outdir, context={**FEATURE_FLAGS, **(context or {})})
    stage = str(app.node.try_get_context("stage") or DEFAULT_STAGE)
    region = str(app.node.try_get_context("region") or DEFAULT_REGION)
    stack = VoltOpsStack(
        app,
        STACK_ID,
        stack_name=f"voltops-{stage}",
        description=f"VoltOps serverless IoT platform ({stage})",
        env=cdk.Environment(account=account, region=region),
        termination_protection=stage == "prod",
        stage=stage,
        layer_dir=layer_dir,
        ingest_reserved_concurrency=_optional_int(app, "ingest_reserved_concurrency"),
        api_reserved_concurrency=_optional_int(app, "api_reserved_concurrency"),
        **stack_kwargs,
    )
    # cdk-nag 3 runs as a CDK validation plugin (it replaced the v2 Aspect): any finding that is
    # not acknowledged with a reason fails the synth. Acknowledgements are also written into
    # the template metadata, so the audit trail travels with the template.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )
    return app, stack


def main() -> None:
    # The CDK CLI passes the account of the current credentials and its output directory.
    app, _ = build_app(
        outdir=os.environ.get("CDK_OUTDIR") or "cdk.out",
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
    )
    app.synth()


if __name__ == "__main__":
    main()
