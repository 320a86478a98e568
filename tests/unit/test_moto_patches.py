"""Every moto fix of the local cloud is pinned to the code it replaces.

When moto is upgraded and one of these fingerprints changes, review the named patch in
shared/local_cloud/patches/ against the new code (or delete it if moto closed the gap),
then update the fingerprint.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from shared.local_cloud.patches import MOTO_VERSION, all_replaced


def test_moto_is_the_version_the_patches_were_written_for() -> None:
    assert version("moto") == MOTO_VERSION


@pytest.mark.parametrize("replaced", all_replaced(), ids=lambda r: f"{r.owner.__name__}.{r.attribute}")
def test_patched_moto_code_is_unchanged(replaced) -> None:
    assert replaced.current_source_sha() == replaced.sha256, (
        f"moto's {replaced.owner.__name__}.{replaced.attribute} changed: review its patch"
    )


def test_patching_twice_is_harmless() -> None:
    from shared.local_cloud.patches import apply_all

    apply_all()
    apply_all()
    for replaced in all_replaced():
        assert replaced.current_source_sha() == replaced.sha256


def test_every_declared_replacement_and_addition_is_installed() -> None:
    # GIVEN the patches applied
    from shared.local_cloud.patches import _modules, apply_all

    apply_all()
    # WHEN each module's declarations are read back from moto
    for module in _modules():
        for replaced in module.PATCH.replaced:
            if replaced.by is not None:
                # THEN moto's attribute is the declared replacement
                assert replaced.owner.__dict__.get(replaced.attribute) is replaced.by, (
                    f"{module.__name__}: {replaced.owner.__name__}.{replaced.attribute} is not installed"
                )
        for owner, attribute, function in module.PATCH.additions:
            assert owner.__dict__.get(attribute) is function, f"{module.__name__}: {attribute} not added"
