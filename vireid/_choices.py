"""Narrowing a string setting to the ``Literal`` type a function declares (private)."""

from __future__ import annotations

from typing import TypeVar

_S = TypeVar("_S", bound=str)


def one_of(value: object, choices: tuple[_S, ...], name: str) -> _S:
    """Return ``value``, typed as the ``Literal`` of ``choices``, if it is one of them.

    Recipes hold their choices as plain ``str`` fields (checked when the recipe is built); the
    functions they configure declare ``Literal`` parameters. Type checkers infer ``_S`` from the
    parameter the result is passed to, and check ``choices`` against it.

    Raises:
        ValueError: If ``value`` is not one of ``choices``.
    """
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(map(repr, choices))
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value
