"""Print the stack's synthesized template as JSON, for the local cloud (``shared.local_cloud.iam``).

Reads the config as JSON on stdin; synthesizes without the inner pipeline, cdk-nag or
CDK's template validation (the local cloud needs the roles, names and policies; ``make
synth`` and the infra tests check the full template).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.app import create_app
from shared.config import DualloopConfig


def main() -> None:
    cfg = DualloopConfig.model_validate_json(sys.stdin.read())
    with tempfile.TemporaryDirectory(prefix="dualloop-local-synth-") as outdir:
        app, stack = create_app(cfg=cfg, outdir=outdir, nag=False, validation=False, pipeline=None)
        template = app.synth().get_stack_by_name(stack.stack_name).template
    json.dump(template, sys.stdout)


if __name__ == "__main__":
    main()
