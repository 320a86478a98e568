"""Judging a ``shared.user_errors.UserError``: one sentence, "what happened: what to do"."""

from __future__ import annotations

from shared.user_errors import UserError


def one_sentence(error: UserError | None) -> UserError:
    assert error is not None
    assert "\n" not in error.message
    assert error.message.endswith(".")
    assert ": " in error.message  # what happened: what to do
    return error
