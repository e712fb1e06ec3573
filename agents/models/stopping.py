"""Stop strings, built once per tokenizer and reused by every call.

transformers turns ``stop_strings`` into a ``StopStringCriteria`` on every ``generate``
call, and building one reads the whole vocabulary (``get_vocab``) and embeds every token
against the stop strings: about 0.45 s a call on these CPUs for Qwen2.5's 151k-token
vocabulary. A reasoning search makes hundreds of one-line calls with the same stops, so
that setup cost more than the tokens it decoded. The criteria hold no state between
calls (each call checks the ids it is given), so one per (tokenizer, stops) serves all.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, StoppingCriteriaList

__all__ = ["StopCriteriaCache"]


class StopCriteriaCache:
    """``StoppingCriteriaList`` for each set of stop strings of one tokenizer.

    Args:
        tokenizer: The model's tokenizer (the criteria match its tokens).
        max_entries: Most distinct stop sets kept (a program uses a handful).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, max_entries: int = 32) -> None:
        self._tokenizer = tokenizer
        self._max_entries = max_entries
        self._built: dict[tuple[str, ...], StoppingCriteriaList] = {}
        self._lock = threading.Lock()

    def kwargs(self, stops: Sequence[str]) -> dict[str, Any]:
        """``generate`` keyword arguments that stop at ``stops`` (none for no stops)."""
        if not stops:
            return {}
        return {"stopping_criteria": self.criteria(stops)}

    def criteria(self, stops: Sequence[str]) -> StoppingCriteriaList:
        """The criteria for ``stops``, built on first use."""
        from transformers import StoppingCriteriaList, StopStringCriteria

        key = tuple(stops)
        with self._lock:
            built = self._built.get(key)
            if built is None:
                if len(self._built) >= self._max_entries:
                    self._built.pop(next(iter(self._built)))
                built = StoppingCriteriaList([StopStringCriteria(self._tokenizer, list(key))])
                self._built[key] = built
            return built
