"""The policy editor: a local web page where a safety team edits rules without Python.

``ponder rules serve POLICY_DIR`` serves it (:func:`create_app`). :class:`PolicyStore` does
the work on files: list and read rules, draft an edit of one rule (only that rule's lines
change), check it with the loader's own file:line errors, and save it atomically with a
history entry. A running assistant whose checker is a
:class:`~ponder.constitution.reload.ReloadingChecker` picks a save up on its next check.
"""

from ponder.constitution.editor.app import create_app
from ponder.constitution.editor.store import (
    Draft,
    EditRejected,
    Issue,
    OutsidePolicyFolder,
    PolicyStore,
    RuleSource,
    RuleSummary,
    Saved,
    StaleEdit,
)

__all__ = [
    "Draft",
    "EditRejected",
    "Issue",
    "OutsidePolicyFolder",
    "PolicyStore",
    "RuleSource",
    "RuleSummary",
    "Saved",
    "StaleEdit",
    "create_app",
]
