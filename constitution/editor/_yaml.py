"""Fast YAML reads for the editor (libyaml when installed); the loader still does the checking.

The editor parses the same files on every keystroke's check, so parses are cached by text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from ponder.agents.core.yamlfile import ParsedYaml

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """``yaml.safe_load``, with libyaml when available.

    Raises:
        yaml.YAMLError: The text is not YAML.
    """
    return yaml.load(text, Loader=_Loader)


def compose(text: str) -> yaml.Node | None:
    """The node tree of ``text`` (``None`` when empty), with libyaml when available.

    Raises:
        yaml.YAMLError: The text is not YAML.
    """
    return yaml.compose(text, Loader=_Loader)


@lru_cache(maxsize=64)
def parse(text: str, file: str) -> ParsedYaml | None:
    """The node tree (for line numbers) and document of ``text``; ``None`` if not YAML.

    The result is shared between callers: read it, never change it.
    """
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        document = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return ParsedYaml(file=file, root=root, document=document)
