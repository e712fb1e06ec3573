"""Tenant settings: which API key carries which policy overlay and knowledge collection.

Declared once, under ``server.tenants`` in ``ponder.yaml``::

    server:
      tenants:
        acme:
          key_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
          policy_overlay: policies/acme       # rules layered over the assistant's policy
          knowledge_collection: acme-docs     # a collection in the same Chroma store

The assistant builds one checker and one store per tenant when it is built
(:mod:`ponder.graphs.tenants`); the server picks the tenant from the request's key.

A tenant's key is given as the SHA-256 of the key, never the key itself. The settings file
(and the dump ``ponder config`` prints) then holds nothing that lets anyone in, so it can
be committed and reviewed beside the overlays it points to, and every replica reads the
same file with no per-tenant secret to distribute. Reading each key from an environment
variable named in the settings would also keep it out of the file, but a replica missing
one variable would serve without that tenant. API keys are long random strings, so an
unsalted hash is not open to the dictionary attacks that make it wrong for passwords.
Make one with ``printf %s "$KEY" | sha256sum``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator

__all__ = ["TenantName", "TenantSettings", "TenantsSettings"]

TenantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
"""A tenant's name: 1 to 64 letters, digits, ``_`` and ``-``, starting with a letter or
digit (it appears in logs, thread records and error messages)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Chroma's rule for collection names, checked here so a typo fails with the settings' line.
_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")


class TenantSettings(BaseModel):
    """One tenant: its key, and what it changes for the requests that send that key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_sha256: str
    """The SHA-256 of the tenant's API key, as 64 hex digits (``printf %s "$KEY" |
    sha256sum``). A request whose bearer key hashes to it runs as this tenant."""
    policy_overlay: Path | None = None
    """A policy folder or file layered over the assistant's policy (``policy`` and
    ``policy_overlays``), which may add or tighten rules and never loosen one; ``None``
    keeps the assistant's policy."""
    knowledge_collection: str | None = None
    """A Chroma collection in the assistant's store (same folder or server) holding this
    tenant's documents (ingest them with ``PONDER_KNOWLEDGE__COLLECTION=<name> ponder
    knowledge ingest DIR``); ``None`` keeps the assistant's collection."""

    @field_validator("key_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        digest = value.strip().lower()
        if not _SHA256.fullmatch(digest):
            raise ValueError(
                'must be the SHA-256 of the tenant\'s key as 64 hex digits (printf %s "$KEY" '
                "| sha256sum), never the key itself"
            )
        return digest

    @field_validator("knowledge_collection")
    @classmethod
    def _collection_name(cls, name: str | None) -> str | None:
        if name is not None and not _COLLECTION.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a Chroma collection name: 3 to 512 letters, digits, '.', "
                "'_' and '-', starting and ending with a letter or digit"
            )
        return name


def _distinct_keys(tenants: dict[str, TenantSettings]) -> dict[str, TenantSettings]:
    owners: dict[str, str] = {}
    for name, tenant in tenants.items():
        other = owners.setdefault(tenant.key_sha256, name)
        if other != name:
            raise ValueError(
                f"tenants {other!r} and {name!r} have the same key_sha256; a key must name "
                "one tenant"
            )
    return tenants


TenantsSettings = Annotated[dict[TenantName, TenantSettings], AfterValidator(_distinct_keys)]
"""``server.tenants``: tenant name to its settings; no two tenants share a key."""
