"""Plumbing every Ponder package imports: the error hierarchy and user-YAML loading.

``ponder.agents`` is the bottom of the import order (``knowledge``, ``constitution`` and
``graphs`` import it, never the reverse), so what all of them share lives here, with no
imports of its own beyond the standard library, pydantic and PyYAML.
"""
