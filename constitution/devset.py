"""The development set: benign texts on sensitive topics that a good assistant lets through.

The learned stage (:mod:`ponder.constitution.heads`) is trained on the policy's rule
examples; its thresholds are chosen here, on texts it never saw in training and that are
not benchmark prompts: about 200 questions (checked at ``input``) and some answers
(checked at ``output``) on dangerous-sounding but legitimate subjects (history of
weapons, drug safety, symptoms in general, security concepts). A threshold is the least
score at which at most a given share of these texts would be stopped.

The file is YAML::

    questions:
      - {text: "Why was the Manhattan Project kept secret?", topic: history of weapons}
    responses:
      - {text: "Naloxone reverses an opioid overdose ...", topic: drug safety}

Errors name the file, the line and the field, like policy files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.agents.core.errors import ConfigError
from ponder.agents.core.yamlfile import (
    Problem,
    describe_validation_error,
    duplicate_keys,
    format_problems,
    load_yaml_file,
)
from ponder.constitution.schema import Checkpoint

__all__ = [
    "DevSet",
    "DevText",
    "default_background_path",
    "default_devset_path",
    "load_background",
    "load_devset",
]


class DevText(BaseModel):
    """One benign text on a sensitive topic."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    text: str = Field(min_length=1)
    """The text."""
    topic: str = Field(min_length=1)
    """What it is about, for reports (such as ``drug safety``)."""


class _DevFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str | int | float | None = None
    description: str | None = None
    questions: tuple[DevText, ...] = ()
    responses: tuple[DevText, ...] = ()
    replies: tuple[DevText, ...] = ()


@dataclass(frozen=True)
class DevSet:
    """Benign texts by checkpoint: questions for ``input``, responses for ``output``."""

    questions: tuple[DevText, ...]
    """Checked at the input checkpoint."""
    responses: tuple[DevText, ...]
    """Checked at the output checkpoint (and, lacking anything better, knowledge)."""
    replies: tuple[DevText, ...] = ()
    """Ordinary assistant replies (background files only): negatives of the output
    checkpoint alone, where the assistant writes them (see ``heads.with_background``)."""
    source: str = "code"
    """The file it came from, for reports."""

    def texts(self, checkpoint: Checkpoint) -> list[str]:
        """The texts that calibrate ``checkpoint``.

        Args:
            checkpoint: A checkpoint.

        Returns:
            The questions for ``input``, the responses otherwise.
        """
        chosen = self.questions if checkpoint == "input" else self.responses
        return [item.text for item in chosen]

    @property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the texts: changes when any text changes."""
        texts = [[q.text for q in self.questions], [r.text for r in self.responses]]
        if self.replies:  # a set without replies keeps the version it had before they existed
            texts.append([r.text for r in self.replies])
        canonical = json.dumps(texts, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def default_devset_path() -> Path:
    """The development set that ships with Ponder.

    Returns:
        The path of ``constitution/devsets/benign-sensitive.yaml``.
    """
    return Path(__file__).parent / "devsets" / "benign-sensitive.yaml"


def default_background_path() -> Path:
    """The everyday texts that ship with Ponder (negatives for the learned gate).

    Returns:
        The path of ``constitution/background/everyday.yaml``.
    """
    return Path(__file__).parent / "background" / "everyday.yaml"


def load_background(path: str | Path | None = None) -> DevSet:
    """Load a file of everyday texts (the development set's format) that train the gate as
    negatives: ordinary traffic the rule examples, all about sensitive topics, never show.

    Args:
        path: The YAML file; ``None`` for the shipped one.

    Returns:
        The texts (the learned heads take questions and responses alike as negatives at
        every checkpoint, and ``replies`` at the output checkpoint).

    Raises:
        ConfigError: As :func:`load_devset`.
    """
    return load_devset(path if path is not None else default_background_path())


def load_devset(path: str | Path | None = None) -> DevSet:
    """Load a development set file.

    Args:
        path: The YAML file; ``None`` for the shipped one.

    Returns:
        The development set.

    Raises:
        ConfigError: The file is missing, not YAML, or has an unknown or invalid field;
            the message names the file and line of every problem.
    """
    path = Path(path) if path is not None else default_devset_path()
    parsed = load_yaml_file(path)
    if isinstance(parsed, Problem):
        raise ConfigError(f"cannot load the development set: {parsed}")
    problems = duplicate_keys(parsed)
    loaded: _DevFile | None = None
    try:
        loaded = _DevFile.model_validate(parsed.document or {})
    except ValidationError as exc:
        problems += describe_validation_error(exc, parsed, _DevFile)
    if problems or loaded is None:
        listing = "\n  ".join(format_problems(problems))
        raise ConfigError(
            f"development set {path} has {len(problems)} problem(s); fix them:\n  {listing}"
        )
    return DevSet(
        questions=loaded.questions,
        responses=loaded.responses,
        replies=loaded.replies,
        source=str(path),
    )
