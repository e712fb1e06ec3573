"""Ponder installs under one namespace: ponder.agents, never a bare ``agents``."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("agents", "constitution", "knowledge", "graphs")


def test_installed_package_imports_from_outside_the_repository(tmp_path: Path) -> None:
    code = (
        "import importlib.util, ponder.agents, ponder.constitution, ponder.knowledge, "
        "ponder.graphs, ponder.agents.models, ponder.agents.reasoning\n"
        "print(ponder.graphs.__file__)\n"
        "print([n for n in ('agents', 'graphs', 'knowledge', 'constitution') "
        "if importlib.util.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()

    assert Path(out[0]).parent == REPO / "graphs"
    assert out[1] == "[]"  # no generic top-level names leak into site-packages


def test_every_code_folder_is_listed_as_a_package() -> None:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        "ponder." + ".".join(init.parent.relative_to(REPO).parts)
        for top in PACKAGES
        for init in (REPO / top).rglob("__init__.py")
    }

    assert on_disk <= listed, f"add to pyproject packages: {sorted(on_disk - listed)}"


def test_built_wheel_holds_only_the_ponder_namespace(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("ponder-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}

    assert {t for t in tops if not t.endswith(".dist-info")} == {"ponder"}
    assert "ponder/agents/models/local.py" in names
    shipped = sorted((Path(__file__).parents[1] / "constitution/policies/default").glob("*.yaml"))
    assert shipped and all(
        f"ponder/constitution/policies/default/{path.name}" in names for path in shipped
    )
    assert "ponder/agents/prompts/compose.j2" in names
    assert "ponder/graphs/server/static/chat.html" in names
