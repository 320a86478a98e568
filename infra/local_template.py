"""The stack's synthesized template as JSON, for the local cloud (``shared.local_cloud.iam``).

``synthesize(cfg)`` is the local cloud's template source (the composition root registers it
with ``stack_template.use``): it runs this module in a child process, as ``make synth``
would, so jsii's Node process never lives in the local cloud's. The child reads the config
as JSON on stdin and synthesizes without the inner pipeline, cdk-nag or CDK's template
validation (the local cloud needs the roles, names, policies and resources; ``make synth``
and the infra tests check the full template).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

from infra.child import run_module
from shared.config import DualloopConfig


class SynthesisFailed(RuntimeError):
    pass


def synthesize(cfg: DualloopConfig) -> dict[str, Any]:
    """The stack's template for ``cfg``, synthesized now in a child process (no cache)."""
    env = dict(os.environ)
    # The child is CDK, not a workload: it must not inherit a local cloud's endpoint.
    env.pop("AWS_ENDPOINT_URL", None)
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    result = run_module("infra.local_template", cfg, env)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise SynthesisFailed(f"synthesizing the stack for the local cloud failed:\n{tail}")
    synthesized: dict[str, Any] = json.loads(result.stdout)
    return synthesized


def main() -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from infra.app import create_app  # CDK and jsii load in the child only

    cfg = DualloopConfig.model_validate_json(sys.stdin.read())
    with tempfile.TemporaryDirectory(prefix="dualloop-local-synth-") as outdir:
        app, stack = create_app(cfg=cfg, outdir=outdir, nag=False, validation=False, pipeline=None)
        template = app.synth().get_stack_by_name(stack.stack_name).template
    json.dump(template, sys.stdout)


if __name__ == "__main__":
    main()
