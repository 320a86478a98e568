"""What a Glue job script needs from its runtime: its arguments and a SparkSession.

On AWS Glue, arguments arrive in ``sys.argv`` as ``--KEY value`` pairs among Glue's own
(``--JOB_ID``, ``--JOB_RUN_ID``, ``--TempDir``...) and are read with
``awsglue.utils.getResolvedOptions``; the session comes from a ``GlueContext``. Elsewhere
the same ``--KEY value`` list is parsed here and a plain SparkSession is used, so a script
runs unchanged under ``python -m``, a local worker, or Glue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["JobArgumentError", "get_spark", "resolve_args"]


class JobArgumentError(ValueError):
    """A required ``--KEY`` is missing or has no value."""


def _parse(argv: Sequence[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--") and len(token) > 2:
            key, eq, value = token[2:].partition("=")
            if eq:
                args[key] = value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                args[key] = argv[i + 1]
                i += 1
            else:
                args[key] = ""  # a bare flag (Glue passes none we read)
        i += 1
    return args


def resolve_args(
    argv: Sequence[str], required: Sequence[str], optional: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The job's arguments from a ``--KEY value`` list (without the script name).

    ``optional`` maps names to defaults. Unknown keys (Glue adds several) are ignored.
    """
    optional = dict(optional or {})
    present = _parse(argv)
    try:
        from awsglue.utils import getResolvedOptions
    except ImportError:
        resolved = {k: present[k] for k in required if present.get(k)}
    else:
        # getResolvedOptions wants the script name first and fails on any missing option,
        # so only the optional keys actually given are asked for.
        names = [*required, *(k for k in optional if k in present)]
        missing = [k for k in required if not present.get(k)]
        resolved = {} if missing else dict(getResolvedOptions(["job", *argv], names))
    missing = [k for k in required if not resolved.get(k)]
    if missing:
        raise JobArgumentError(f"missing required job argument(s): {', '.join('--' + k for k in missing)}")
    return {**optional, **{k: v for k, v in present.items() if k in optional}, **resolved}


def get_spark(app_name: str, spark: SparkSession | None = None) -> SparkSession:
    """``spark`` if given; else the GlueContext's session on Glue; else a plain SparkSession."""
    if spark is not None:
        return spark
    try:
        from awsglue.context import GlueContext
        from pyspark.context import SparkContext
    except ImportError:
        pass
    else:
        try:
            session: SparkSession = GlueContext(SparkContext.getOrCreate()).spark_session
            return session
        except Exception:  # noqa: S110 - the pip awsglue package imports but has no Glue JVM side
            pass
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName(app_name).getOrCreate()
