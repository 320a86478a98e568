"""The Glue jobs' wheels refuse to be built for the wrong platform (issue 13, item 10)."""

from __future__ import annotations

import pytest

from infra.glue_wheels import GlueWheelError, check_platform


@pytest.mark.parametrize(
    "tags",
    [
        "cp312-cp312-manylinux_2_17_x86_64",
        "cp311-cp311-macosx_11_0_arm64",
        "cp311-cp311-manylinux_2_17_aarch64",
    ],
)
def test_compiled_code_for_another_platform_is_refused(tags: str) -> None:
    # GIVEN a compiled wheel not for CPython 3.11 on Linux x86_64 WHEN checked THEN refused, saying so
    with pytest.raises(GlueWheelError, match=r"Glue 5\.0 runs CPython 3\.11 on Linux x86_64"):
        check_platform("pydantic-core", tags)


@pytest.mark.parametrize("tags", ["py3-none-any", "cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64"])
def test_pure_python_and_glues_own_platform_pass(tags: str) -> None:
    check_platform("x", tags)
