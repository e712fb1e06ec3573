"""Check a frozen dataclass's fields against the constraints declared in their types.

An option is declared once, with its constraint in its type::

    @dataclass(frozen=True, kw_only=True)
    class Budget:
        max_tokens: Annotated[int, Ge(1)] = 1024

        def __post_init__(self) -> None:
            check_fields(self)

Python callers get a ``ValueError`` that names the class and the field; pydantic reads the
same ``annotated_types`` constraints and ``Literal`` choices when the dataclass is a
settings section, so a YAML file gets its usual file, line and field error. No second
list of bounds exists to drift from the first.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from annotated_types import Ge, Gt, Le, Lt

__all__ = ["check_fields"]

_Constraint = Ge | Gt | Le | Lt


@dataclasses.dataclass(frozen=True)
class _Rule:
    name: str
    choices: tuple[object, ...] | None
    bounds: tuple[_Constraint, ...]
    optional: bool


def check_fields(obj: object) -> None:
    """Raise if a field of the dataclass ``obj`` breaks the constraint its type declares.

    Checks ``Literal`` choices and the ``annotated_types`` bounds ``Ge``, ``Gt``, ``Le`` and
    ``Lt`` (also inside ``X | None``, where ``None`` passes).

    Args:
        obj: A dataclass instance, usually ``self`` in ``__post_init__``.

    Raises:
        ValueError: A value is not one of the choices, or is out of bounds; the message
            names ``Class.field``, the value and what is allowed.
    """
    cls: type = type(obj)  # as `type`: mypy takes a bare class object for unhashable
    owner = cls.__name__
    for rule in _rules(cls):
        value = getattr(obj, rule.name)
        if value is None and rule.optional:
            continue
        if rule.choices is not None and value not in rule.choices:
            allowed = ", ".join(str(choice) for choice in rule.choices)
            raise ValueError(f"unknown {rule.name} {value!r}; choose one of {allowed}")
        for bound in rule.bounds:
            if not _within(value, bound):
                raise ValueError(f"{owner}.{rule.name} must be {_describe(bound)}, got {value!r}")


@functools.cache
def _rules(cls: type) -> tuple[_Rule, ...]:
    hints = get_type_hints(cls, include_extras=True)
    rules: list[_Rule] = []
    for field in dataclasses.fields(cls):
        annotation, optional = _without_none(hints[field.name])
        bounds: tuple[_Constraint, ...] = ()
        if get_origin(annotation) is Annotated:
            annotation, *metadata = get_args(annotation)
            bounds = tuple(m for m in metadata if isinstance(m, _Constraint))
        choices = get_args(annotation) if get_origin(annotation) is Literal else None
        if bounds or choices is not None:
            rules.append(_Rule(field.name, choices, bounds, optional))
    return tuple(rules)


def _without_none(annotation: Any) -> tuple[Any, bool]:
    """``X`` and True for ``X | None``; the annotation itself and False otherwise."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(get_args(annotation)) == 2:
            return members[0], True
    return annotation, False


def _within(value: Any, bound: _Constraint) -> bool:
    match bound:
        case Ge(ge=limit):
            return bool(value >= limit)
        case Gt(gt=limit):
            return bool(value > limit)
        case Le(le=limit):
            return bool(value <= limit)
        case Lt(lt=limit):
            return bool(value < limit)


def _describe(bound: _Constraint) -> str:
    match bound:
        case Ge(ge=limit):
            return f">= {limit}"
        case Gt(gt=limit):
            return f"> {limit}"
        case Le(le=limit):
            return f"<= {limit}"
        case Lt(lt=limit):
            return f"< {limit}"
