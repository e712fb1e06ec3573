"""Follow a pydantic error location through a model's field types.

Split from :mod:`ponder.agents.core.yamlfile` so that module keeps the file side of an
error (parsing, lines, messages) while this one keeps the type side: what the validated
model's annotations say about a location such as ``("rules", 3, "Pattern", "regex")``.
That answers three questions :func:`~ponder.agents.core.yamlfile.describe_validation_error`
asks of every error: which location parts are union member names pydantic inserted (they
are not keys in the file), whether the value is a secret (its input must never be echoed),
and which keys were allowed where an unknown one was written ("did you mean ...?").
Models, dataclass sections, unions, optionals, ``Annotated``, sequences, tuples and
mappings are followed; anything else ends the walk.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Mapping, Sequence
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    TypeGuard,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Loc", "is_secret", "unknown_key_message", "walk"]

Loc = tuple[int | str, ...]
"""A pydantic error location: mapping keys and sequence indexes from the top."""


def walk(model: type[BaseModel], loc: Loc) -> tuple[frozenset[int], Any]:
    """Follow ``loc`` through the types of ``model``'s fields.

    Args:
        model: The validated model.
        loc: A pydantic error location.

    Returns:
        The indexes of the parts of ``loc`` that name a union member (pydantic inserts
        them; they are not keys in the file), and the type found at the end of ``loc``
        (``None`` where the walk got lost).
    """
    members: set[int] = set()
    current: Any = model
    for i, part in enumerate(loc):
        current, is_member_name = _step(current, part)
        if is_member_name:
            members.add(i)
        if current is None:
            break
    return frozenset(members), current


def is_secret(annotation: Any) -> bool:
    """Whether ``annotation`` is, or contains, :class:`~pydantic.SecretStr`.

    Args:
        annotation: A type found by :func:`walk`.

    Returns:
        ``True`` when an error's input must not be shown (a bad URL or key may carry a
        password).
    """
    if annotation is SecretStr:
        return True
    return any(is_secret(arg) for arg in get_args(annotation))


def unknown_key_message(model: type[BaseModel], loc: Loc) -> str:
    """The message for an unknown key at ``loc``, with the closest allowed key or the list.

    Args:
        model: The validated model.
        loc: The pydantic location of the unknown key (its last part is the key).

    Returns:
        ``unknown field; did you mean 'x'?``, ``unknown field; allowed: ...``, or just
        ``unknown field`` where the owner's keys are not known.
    """
    message = "unknown field"
    owner = _unwrap(walk(model, loc[:-1])[1]) if loc else None
    if _is_model(owner):
        names = [field.alias or name for name, field in owner.model_fields.items()]
    elif _is_dataclass(owner):
        names = [field.name for field in dataclasses.fields(owner)]
    else:
        return message
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    if close:
        return f"{message}; did you mean {close[0]!r}?"
    return f"{message}; allowed: {', '.join(names)}"


def _step(annotation: Any, part: int | str) -> tuple[Any, bool]:
    """The type one location part below ``annotation`` (``None`` if unknown), and whether
    ``part`` names a union member rather than a key or index in the file."""
    annotation = _unwrap(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if _is_model(annotation):
        fields = annotation.model_fields.items()
        found = next((f for name, f in fields if part in (name, f.alias)), None)
        return (found.annotation if found is not None else None), False
    if _is_dataclass(annotation):
        # A dataclass section (pydantic validates its fields from their annotations).
        return get_type_hints(annotation, include_extras=True).get(str(part)), False
    if _is_union(origin):
        # Pydantic tries each member and tags its errors with the member's name.
        member = next((arg for arg in args if getattr(arg, "__name__", None) == part), None)
        return member, member is not None
    if isinstance(part, int) and isinstance(origin, type) and issubclass(origin, Sequence):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return (args[part] if part < len(args) else None), False
        return (args[0] if args else None), False
    if isinstance(part, str) and isinstance(origin, type) and issubclass(origin, Mapping):
        return (args[1] if len(args) == 2 else None), False
    return None, False


def _unwrap(annotation: Any) -> Any:
    """``annotation`` without ``Annotated`` and without ``None`` in an optional."""
    while True:
        origin, args = get_origin(annotation), get_args(annotation)
        if origin is Annotated:
            annotation = args[0]
            continue
        if _is_union(origin):
            members = [arg for arg in args if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


def _is_model(annotation: Any) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_dataclass(annotation: Any) -> TypeGuard[type[DataclassInstance]]:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)
