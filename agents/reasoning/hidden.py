"""The hidden chain of thought: a value the user-facing path cannot serialize.

Like ``SecretStr``, :class:`HiddenChain` keeps its payload behind
``get_secret_value()``. LangGraph's checkpointer calls that method to persist it (the
chain stays in the thread's state and in traces), while every user-facing serializer
refuses it: pydantic raises :class:`HiddenReasoningError`, ``json.dumps`` raises
``TypeError``, pickling raises, and ``str``/``repr``/``format`` show only counts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from ponder.agents.core.errors import HiddenReasoningError

__all__ = ["HiddenChain"]


class HiddenChain:
    """Hidden reasoning: the chains and search tree behind an answer.

    Args:
        trace: A JSON-compatible mapping; ``chains`` (a list of chain texts) and
            ``reasoning_tokens`` (an int) are read by the properties below.
    """

    __slots__ = ("_trace",)
    _trace: dict[str, Any]  # a JSON document: the search's own layout, read by key

    def __init__(self, trace: Mapping[str, Any]) -> None:
        # Round-trip through JSON: the payload must stay storable, and a frozen copy
        # keeps later mutation of the caller's dict from reaching the state.
        object.__setattr__(self, "_trace", json.loads(json.dumps(dict(trace))))

    def get_secret_value(self) -> dict[str, Any]:
        """The full trace. For checkpointers, trace files and tests; never for users."""
        return copy.deepcopy(self._trace)

    @property
    def chains(self) -> list[str]:
        """The chain texts (hidden)."""
        return list(self._trace.get("chains", []))

    @property
    def reasoning_tokens(self) -> int:
        """How many tokens were generated while reasoning (safe to show)."""
        return int(self._trace.get("reasoning_tokens", 0))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("HiddenChain is immutable")

    def __repr__(self) -> str:
        return f"HiddenChain(<{len(self.chains)} chains, {self.reasoning_tokens} tokens hidden>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HiddenChain) and other._trace == self._trace

    def __hash__(self) -> int:
        return hash(json.dumps(self._trace, sort_keys=True))

    def __copy__(self) -> HiddenChain:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> HiddenChain:
        return self

    def __reduce__(self) -> Any:
        raise HiddenReasoningError(
            "HiddenChain cannot be pickled; internal code reads get_secret_value()"
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_hidden,
            serialization=core_schema.plain_serializer_function_ser_schema(_refuse),
        )


def _validate_hidden(value: object) -> HiddenChain:
    if not isinstance(value, HiddenChain):
        raise ValueError("expected a HiddenChain")
    return value


def _refuse(value: object) -> Any:
    raise HiddenReasoningError(
        "hidden reasoning may not be serialized on a user-facing path; "
        "report its reasoning_tokens instead"
    )
