"""``server.tenants``: keys as SHA-256 digests, names and collections checked at load,
errors by file, line and field."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ponder.agents.core.errors import ConfigError
from ponder.graphs.server import check_exposure
from ponder.graphs.settings import ServerSettings, load_settings

DIGEST = hashlib.sha256(b"acme-key").hexdigest()


@pytest.fixture(autouse=True)
def _no_ponder_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PONDER_"):
            monkeypatch.delenv(name)


def _problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "ponder.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return str(caught.value)


def test_tenants_load_with_the_digest_in_lower_case(tmp_path: Path) -> None:
    path = tmp_path / "ponder.yaml"
    path.write_text(
        "server:\n  tenants:\n    acme:\n"
        f"      key_sha256: {DIGEST.upper()}\n"
        "      policy_overlay: policies/acme\n"
        "      knowledge_collection: acme-docs\n"
    )

    acme = load_settings(path).server.tenants["acme"]

    assert acme.key_sha256 == DIGEST
    assert acme.policy_overlay == Path("policies/acme")
    assert acme.knowledge_collection == "acme-docs"


def test_no_tenants_by_default() -> None:
    assert load_settings().server.tenants == {}


def test_a_plain_key_in_place_of_its_digest_is_refused_by_line(tmp_path: Path) -> None:
    message = _problems(tmp_path, "server:\n  tenants:\n    acme:\n      key_sha256: acme-key\n")

    assert "ponder.yaml:4: field 'server.tenants.acme.key_sha256'" in message
    assert "never the key itself" in message


@pytest.mark.parametrize(
    ("entry", "field", "says"),
    [
        ("knowledge_collection: a", "knowledge_collection", "not a Chroma collection name"),
        ("knowledge_collection: docs/acme", "knowledge_collection", "not a Chroma"),
        ("policy_overlays: [x]", "policy_overlays", "did you mean 'policy_overlay'?"),
    ],
)
def test_a_bad_tenant_field_is_named(tmp_path: Path, entry: str, field: str, says: str) -> None:
    text = f"server:\n  tenants:\n    acme:\n      key_sha256: {DIGEST}\n      {entry}\n"

    message = _problems(tmp_path, text)

    assert f"ponder.yaml:5: field 'server.tenants.acme.{field}'" in message
    assert says in message


def test_a_bad_tenant_name_is_refused(tmp_path: Path) -> None:
    message = _problems(tmp_path, f"server:\n  tenants:\n    ac me:\n      key_sha256: {DIGEST}\n")

    assert "server.tenants.ac me" in message


def test_two_tenants_with_one_key_are_refused(tmp_path: Path) -> None:
    text = (
        "server:\n  tenants:\n"
        f"    acme:\n      key_sha256: {DIGEST}\n"
        f"    globex:\n      key_sha256: {DIGEST.upper()}\n"
    )

    message = _problems(tmp_path, text)

    assert "tenants 'acme' and 'globex' have the same key_sha256" in message


def test_tenant_keys_let_the_server_listen_beyond_loopback() -> None:
    keyless = ServerSettings()
    with_tenants = ServerSettings(tenants={"acme": {"key_sha256": DIGEST}})  # type: ignore[dict-item]

    with pytest.raises(ConfigError, match="without API keys"):
        check_exposure(keyless, "0.0.0.0")
    check_exposure(with_tenants, "0.0.0.0")  # a tenant's key is a key
