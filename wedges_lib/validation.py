"""Argument checking shared by the whole library: one error format that names the parameter.

:class:`Param` is the spec of one chapter parameter (type, range or choices, meaning);
:func:`check_arg` is the one-line guard every public function uses for its own arguments.
Both raise ``ValueError("parameter 'NAME': got VALUE; expected VALID")``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def check_arg(name: str, value: Any, ok: bool, valid: str) -> None:
    """Raise ValueError naming ``name``, its ``value`` and what is ``valid`` unless ``ok``.

    >>> check_arg("lr", 0.1, 0.1 > 0, "a float > 0")
    >>> check_arg("lr", -1, -1 > 0, "a float > 0")
    Traceback (most recent call last):
    ...
    ValueError: parameter 'lr': got -1; expected a float > 0
    """
    if not ok:
        raise ValueError(f"parameter {name!r}: got {value!r}; expected {valid}")


@dataclass(frozen=True)
class Param:
    """The spec of one parameter: its type, valid range or choices, and what it means."""

    type: type
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    low_open: bool = False  # True: value must be > low (not >=)

    def describe(self) -> str:
        """The valid values, in words.

        >>> Param(float, "learning rate", low=0, low_open=True).describe()
        'a float > 0'
        """
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        lo = "" if self.low is None else (f"> {self.low}" if self.low_open else f">= {self.low}")
        hi = "" if self.high is None else f"<= {self.high}"
        rng = " and ".join(s for s in (lo, hi) if s)
        return f"a{'n' if self.type is int else ''} {self.type.__name__}" + (f" {rng}" if rng else "")

    def check(self, name: str, value: Any) -> Any:
        """Return ``value`` coerced to this type, or raise ValueError naming the parameter."""
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if self.type is tuple and isinstance(value, list):
            value = tuple(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise ValueError(f"parameter {name!r}: got {value!r} ({type(value).__name__}); expected {self.describe()}")
        check_arg(name, value, self.choices is None or value in self.choices, self.describe())
        items = value if self.type is tuple else (value,)
        for v in items:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                bad = (self.low is not None and (v <= self.low if self.low_open else v < self.low)) or (
                    self.high is not None and v > self.high)
                check_arg(name, value, not bad and v == v, self.describe())
        return value
