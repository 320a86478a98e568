"""ARN patterns for IAM statements, in the same literal form ``shared.naming`` uses.

``Names`` spells ARNs with the ``aws`` partition and the configured account and region; the
stack is pinned to that account and region (``infra/app.py``), so literals stay true.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.naming import Names


@dataclass(frozen=True)
class Arns:
    names: Names

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.names.region}:{self.names.account}:{resource}"

    def sagemaker(self, resource: str) -> str:
        # SageMaker lower-cases resource names in ARNs, and IAM matches case-sensitively.
        return self._arn("sagemaker", resource.lower())

    def logs(self, resource: str) -> str:
        return self._arn("logs", resource)

    def glue(self, resource: str) -> str:
        return self._arn("glue", resource)

    @staticmethod
    def s3(bucket: str, key: str = "") -> str:
        return f"arn:aws:s3:::{bucket}{'/' + key if key else ''}"
