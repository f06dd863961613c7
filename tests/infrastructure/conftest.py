"""One synthesis of the real app (cdk-nag attached, as `cdk deploy` runs it) for the whole session."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCOUNT = "123456789012"
REGION = "us-east-1"
STAGE = "dev"


@dataclass(frozen=True)
class Synth:
    stack: Any  # infra.stack.VoltOpsStack
    template: Any  # aws_cdk.assertions.Template
    raw: dict[str, Any]
    outdir: Path
    template_path: Path

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == type_}

    def one(self, type_: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(type_)
        assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
        return next(iter(found.items()))


def _violations(outdir: Path) -> list[str]:
    report = outdir / "validation-report.json"
    if not report.exists():
        return []
    lines = []
    for plugin in json.loads(report.read_text())["pluginReports"]:
        for v in plugin.get("violations", []):
            paths = ", ".join(c["constructPath"] for c in v.get("violatingConstructs", []))
            lines.append(f"{v['ruleName']} ({v['severity']}) at {paths}")
    return lines


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from aws_cdk.assertions import Template

    from infra.app import build_app

    # A stand-in for build/lambda-layer: tests never run the install step, and hashing the
    # real 30 MB layer would only slow the synth down. The layer's contents are not under test.
    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "README.txt").write_text("test stand-in for build/lambda-layer\n")
    outdir = tmp_path_factory.mktemp("cdk.out")
    # A stand-in console build: the infrastructure must not depend on `npm run build` having run.
    console = tmp_path_factory.mktemp("console-dist")
    (console / "index.html").write_text("<!doctype html><title>VoltOps</title><div id=app></div>\n")
    (console / "assets").mkdir()
    (console / "assets" / "index-test.js").write_text("export {}\n")

    app, stack = build_app(
        context={"stage": STAGE, "region": REGION, "console_dist": str(console)},
        outdir=str(outdir),
        account=ACCOUNT,
        layer_dir=layer,
    )
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag (validation plugin) or CDK refused the app
        found = _violations(outdir)
        pytest.fail(f"synth failed: {exc}\n" + "\n".join(found), pytrace=False)
    template_path = outdir / f"{stack.artifact_id}.template.json"
    raw = json.loads(template_path.read_text())
    return Synth(stack=stack, template=Template.from_json(raw), raw=raw, outdir=outdir, template_path=template_path)
