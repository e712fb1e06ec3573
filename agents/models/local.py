"""``LocalModel``: a chat model on local weights with transformers and torch.

It loads once per process (a loaded model is shared by every ``LocalModel`` with the
same weights, device and dtype), picks ``cuda`` when available, else ``cpu``, and the
fastest dtype for the device: bfloat16 on both (measured on a 2-core CPU, SmolLM2-135M:
26.6 tok/s greedy in bfloat16 against 17.3 in float32).

Sibling samples share their prompt, so the prompt is computed once: it is prefilled with
batch 1 into a KV cache, the cache is repeated to ``n`` rows, and only the new tokens
are decoded in a batch. With ``prefix_cache_size`` the caches of recent prompts are
kept, so a prompt that extends an earlier one (a search node's children continue its
parent's chain; a scorer asks "Yes" then "No" after the same chat) computes only the
tokens it adds.
Models whose cache cannot be reused this way take the plain ``generate`` path.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.base import Completion, GenerationSettings, Message
from ponder.agents.models.presets import PRESETS, get_preset, materialize

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase
    from transformers.cache_utils import Cache

logger = logging.getLogger(__name__)

_DEFAULT = GenerationSettings()
_LOADED: dict[tuple[str, str, str], _Loaded] = {}
_LOAD_LOCK = threading.Lock()


class _PrefixCaches:
    """The KV caches of the last few prompts, most recently used last.

    Entries are never handed out: :meth:`take` returns a copy, because generation
    appends to the cache it is given. Callers hold the model's lock.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[int, ...], Cache] = OrderedDict()

    def take(self, ids: tuple[int, ...]) -> tuple[Cache | None, int]:
        """A copy of the cache sharing the longest prefix with ``ids``, cropped to it.

        Returns:
            The cache and how many leading tokens of ``ids`` it holds; ``(None, 0)``
            when no entry shares a first token, or the one that does cannot be cut.
        """
        best, shared = None, 0
        for key in self._entries:
            common = _common_prefix(key, ids)
            if common > shared:
                best, shared = key, common
        if best is None or (len(best) > shared and not self._entries[best].is_croppable):
            return None, 0
        self._entries.move_to_end(best)
        cache = copy.deepcopy(self._entries[best])
        if len(best) > shared:
            cache.crop(shared - len(best))  # crop takes minus the tokens to drop
        return cache, shared

    def put(self, ids: tuple[int, ...], cache: Cache) -> None:
        """Keep a copy of ``cache``, which holds exactly the tokens ``ids``."""
        if self.capacity < 1:
            return
        self._entries[ids] = copy.deepcopy(cache)
        self._entries.move_to_end(ids)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)


def _common_prefix(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


@dataclass(frozen=True)
class _Loaded:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    lock: threading.Lock
    prefixes: _PrefixCaches = field(default_factory=lambda: _PrefixCaches(0))


def default_device() -> str:
    """``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _resolve_weights(source: str, progress: Callable[[str], None]) -> tuple[Path, str | None]:
    """Map a preset name, a model folder or a ``.gguf`` file to (folder, gguf file name)."""
    if source in PRESETS:
        return materialize(get_preset(source), progress), None
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.parent, path.name
    if path.is_dir() and (path / "config.json").is_file():
        return path, None
    raise ConfigError(
        f"model {source!r} is neither a preset ({', '.join(sorted(PRESETS))}), "
        "a model folder with config.json, nor a .gguf file"
    )


class LocalModel:
    """A :class:`~ponder.agents.models.base.ChatModel` on local weights.

    Args:
        source: A preset name (``smollm2-135m``), a Hugging Face model folder, or a
            ``.gguf`` file. Weights load lazily on first use.
        device: ``cuda`` or ``cpu``; defaults to the best available.
        dtype: ``bfloat16``, ``float16`` or ``float32``; defaults to ``bfloat16``.
        max_seconds: Wall-clock limit of one ``generate`` call; output generated by then
            is returned with ``finish_reason="length"`` and ``extra["timed_out"]``.
        share_prefix: Compute the prompt once for all ``n`` samples (the default);
            False runs plain ``generate`` with the prompt repeated ``n`` times, for
            comparison.
        prefix_cache_size: How many recent prompts' KV caches to keep per loaded model
            (shared by every ``LocalModel`` on the same weights) for reuse by later
            calls; 0, the default, keeps none. Experimental: a long test session with
            reuse on once produced a wrong greedy answer that a fresh cache did not.
        progress: Called with a line of text during long loads.
    """

    def __init__(
        self,
        source: str = "smollm2-135m",
        *,
        device: str | None = None,
        dtype: str = "bfloat16",
        max_seconds: float | None = None,
        share_prefix: bool = True,
        prefix_cache_size: int = 0,
        progress: Callable[[str], None] = logger.info,
    ) -> None:
        if dtype not in ("bfloat16", "float16", "float32"):
            raise ConfigError(f"dtype must be bfloat16, float16 or float32, got {dtype!r}")
        if prefix_cache_size < 0:
            raise ConfigError(f"prefix_cache_size must be >= 0, got {prefix_cache_size}")
        self.source = source
        self.device = device
        self.dtype = dtype
        self.max_seconds = max_seconds
        self.share_prefix = share_prefix
        self.prefix_cache_size = prefix_cache_size
        self._progress = progress
        self._loaded: _Loaded | None = None

    @property
    def name(self) -> str:
        return self.source if self.source in PRESETS else Path(self.source).name

    def load(self) -> None:
        """Load the weights now instead of on first use."""
        self._ensure_loaded()

    def _ensure_loaded(self) -> _Loaded:
        if self._loaded is not None:
            return self._loaded
        device = self.device or default_device()
        key = (self.source, device, self.dtype)
        with _LOAD_LOCK:
            if key not in _LOADED:
                _LOADED[key] = self._load(device)
            self._loaded = _LOADED[key]
        return self._loaded

    def _load(self, device: str) -> _Loaded:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        folder, gguf_file = _resolve_weights(self.source, self._progress)
        self._progress(f"loading {self.name} on {device} ({self.dtype})")
        started = time.perf_counter()
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=gguf_file, dtype=getattr(torch, self.dtype)
        )
        model.to(device).eval()
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        logger.info("loaded %s in %.1f s", self.name, time.perf_counter() - started)
        return _Loaded(
            model=model,
            tokenizer=tokenizer,
            lock=threading.Lock(),
            prefixes=_PrefixCaches(self.prefix_cache_size),
        )

    def _prompt_ids(self, loaded: _Loaded, messages: Sequence[Message]) -> torch.Tensor:
        if not messages:
            raise ValueError("messages is empty: a chat needs at least one message")
        continue_last = messages[-1]["role"] == "assistant"
        ids = loaded.tokenizer.apply_chat_template(
            list(messages),
            add_generation_prompt=not continue_last,
            continue_final_message=continue_last,
            return_tensors="pt",
            return_dict=True,
        )["input_ids"]
        return ids.to(loaded.model.device)  # (1, prompt_len)

    def generate(
        self,
        messages: Sequence[Message],
        n: int = 1,
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        settings = settings or _DEFAULT
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        import torch

        loaded = self._ensure_loaded()
        prompt = self._prompt_ids(loaded, messages)
        greedy = settings.temperature == 0
        # Greedy samples are identical: decode once and repeat instead of n times.
        batch = 1 if greedy else n
        kwargs = self._generate_kwargs(loaded, settings)
        with loaded.lock, torch.inference_mode():
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            started = time.perf_counter()
            out = self._decode(loaded, prompt, batch, kwargs)  # (batch, prompt_len + new)
            elapsed = time.perf_counter() - started
        p = prompt.shape[1]
        completions = [self._completion(loaded, row[p:], p, settings, elapsed) for row in out]
        return completions * n if greedy else completions

    def generate_many(
        self,
        chats: Sequence[Sequence[Message]],
        settings: GenerationSettings | None = None,
    ) -> list[Completion]:
        """One sample for each of several chats, decoded together in one batch.

        Not part of the ``ChatModel`` protocol: a throughput tool for running many
        independent questions (a benchmark's greedy baseline) on one local model. The
        chats' common beginning (a system prompt, worked examples) is computed once;
        each row is then padded between that prefix and its own tokens, so every
        prompt ends in the last column.

        Args:
            chats: The chats; a final ``assistant`` message is continued.
            settings: Sampling settings, the same for every chat.

        Returns:
            One completion per chat, in order.
        """
        settings = settings or _DEFAULT
        if not chats:
            return []
        import torch

        loaded = self._ensure_loaded()
        prompts = [tuple(self._prompt_ids(loaded, chat)[0].tolist()) for chat in chats]
        shared = min(len(ids) for ids in prompts) - 1  # keep a token per row to decode from
        for ids in prompts[1:]:
            shared = min(shared, _common_prefix(prompts[0], ids))
        device = loaded.model.device
        kwargs = self._generate_kwargs(loaded, settings)
        with loaded.lock, torch.inference_mode():
            started = time.perf_counter()
            prefix = torch.tensor([prompts[0][:shared]], device=device)  # (1, shared)
            cache = self._prefill(loaded, prefix) if self._reuses_cache(loaded) else None
            if cache is None:
                shared = 0  # plain left padding
            else:
                cache.batch_repeat_interleave(len(prompts))
                kwargs["cache"] = cache
            rows, mask = _pad_between(prompts, shared, loaded.tokenizer.pad_token_id)
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            out = loaded.model.generate(
                rows.to(device), attention_mask=mask.to(device), **kwargs
            )  # (chats, shared + width + new)
            elapsed = time.perf_counter() - started
        return [
            self._completion(loaded, row[rows.shape[1] :], len(ids), settings, elapsed)
            for row, ids in zip(out, prompts, strict=True)
        ]

    def _generate_kwargs(self, loaded: _Loaded, settings: GenerationSettings) -> dict[str, Any]:
        greedy = settings.temperature == 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": settings.max_tokens,
            "do_sample": not greedy,
            "pad_token_id": loaded.tokenizer.pad_token_id,
        }
        if not greedy:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
        if settings.stop:
            kwargs.update(stop_strings=list(settings.stop), tokenizer=loaded.tokenizer)
        if self.max_seconds is not None:
            kwargs["max_time"] = self.max_seconds
        return kwargs

    def _decode(
        self, loaded: _Loaded, prompt: torch.Tensor, batch: int, kwargs: dict[str, Any]
    ) -> torch.Tensor:
        """Sample ``batch`` continuations of ``prompt`` (1, p); rows are (batch, p + new)."""
        import torch

        cache = self._prefill(loaded, prompt[:, :-1]) if self._reuses_cache(loaded) else None
        if cache is None:
            # Plain path: generate repeats the prompt and computes it once per row.
            mask = torch.ones_like(prompt)
            return loaded.model.generate(
                prompt, attention_mask=mask, num_return_sequences=batch, **kwargs
            )
        # The cache holds all but the last prompt token, which generate feeds itself to
        # get the first logits; each row then decodes against the shared prefix.
        cache.batch_repeat_interleave(batch)
        rows = prompt.expand(batch, -1)  # (batch, p)
        return loaded.model.generate(
            rows, attention_mask=torch.ones_like(rows), cache=cache, **kwargs
        )

    def _reuses_cache(self, loaded: _Loaded) -> bool:
        model = loaded.model
        supported = getattr(model, "_supports_default_dynamic_cache", None)
        return (
            self.share_prefix
            and not model.config.is_encoder_decoder
            and callable(supported)
            and bool(supported())
        )

    def _prefill(self, loaded: _Loaded, ids: torch.Tensor) -> Cache | None:
        """A batch-1 KV cache holding ``ids`` (1, m), computing only the tokens no recent
        prompt shared; None for an empty ``ids``."""
        from transformers import DynamicCache

        if ids.shape[1] == 0:
            return None
        key = tuple(ids[0].tolist())
        cache, done = loaded.prefixes.take(key)
        if cache is None:
            cache = DynamicCache(config=loaded.model.config)
        if done < len(key):
            loaded.model(ids[:, done:], cache=cache, use_cache=True, logits_to_keep=1)
        loaded.prefixes.put(key, cache)
        return cache

    def _completion(
        self,
        loaded: _Loaded,
        generated: torch.Tensor,
        prompt_len: int,
        settings: GenerationSettings,
        elapsed: float,
    ) -> Completion:
        new = generated.tolist()
        # A row that finished before the others in its batch is filled with padding.
        eos = _eos_ids(loaded) | {loaded.tokenizer.pad_token_id}
        ended = False
        for i, token in enumerate(new):
            if token in eos:
                new, ended = new[:i], True
                break
        text = loaded.tokenizer.decode(new, skip_special_tokens=True)
        for stop in settings.stop:
            if stop in text:
                text, ended = text[: text.index(stop)], True
        timed_out = self.max_seconds is not None and elapsed >= self.max_seconds and not ended
        return Completion(
            text=text,
            prompt_tokens=prompt_len,
            completion_tokens=len(new),
            finish_reason="stop" if ended else "length",
            extra={"seconds": elapsed, "timed_out": timed_out},
        )

    def score(self, messages: Sequence[Message], continuation: str) -> float:
        import torch

        loaded = self._ensure_loaded()
        prompt = self._prompt_ids(loaded, messages)  # (1, p)
        cont = loaded.tokenizer(continuation, add_special_tokens=False, return_tensors="pt")[
            "input_ids"
        ].to(prompt.device)  # (1, c)
        if cont.shape[1] == 0:
            return 0.0
        ids = torch.cat([prompt, cont], dim=1)  # (1, p + c)
        with loaded.lock, torch.inference_mode():
            cache = self._prefill(loaded, prompt[:, :-1]) if self._reuses_cache(loaded) else None
            if cache is None:
                logits = loaded.model(ids).logits[0, prompt.shape[1] - 1 : -1]  # (c, vocab)
            else:
                # The cache holds the prompt but its last token: feed that and all but
                # the last continuation token, whose logits predict the continuation.
                tail = ids[:, prompt.shape[1] - 1 : -1]  # (1, c)
                logits = loaded.model(tail, cache=cache, use_cache=True).logits[0]  # (c, vocab)
            logprobs = logits.float().log_softmax(-1)
            picked = logprobs.gather(1, cont[0].unsqueeze(1))  # (c, 1)
        return float(picked.sum())


def _pad_between(
    prompts: Sequence[tuple[int, ...]], shared: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of token ids and their attention mask: the ``shared`` first tokens, padding,
    then each prompt's own tokens, so that every prompt ends in the last column."""
    import torch

    width = max(len(ids) for ids in prompts)
    rows = torch.full((len(prompts), width), pad)  # (chats, width)
    mask = torch.zeros_like(rows)
    for i, ids in enumerate(prompts):
        rows[i, :shared], mask[i, :shared] = torch.tensor(ids[:shared]), 1
        own = len(ids) - shared
        rows[i, width - own :], mask[i, width - own :] = torch.tensor(ids[shared:]), 1
    return rows, mask


def _eos_ids(loaded: _Loaded) -> set[int]:
    ids = loaded.model.generation_config.eos_token_id
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if loaded.tokenizer.eos_token_id is not None:
        found.add(loaded.tokenizer.eos_token_id)
    return found
