"""One ``ponder serve`` replica for the two-process PostgreSQL tests, on fake models.

Run as ``python replica_server.py POSTGRES_URL DATA_DIR PORT``: it serves the OpenAI API
on 127.0.0.1:PORT with threads and the audit log at POSTGRES_URL, and answers with
:func:`server_helpers.recalling_model` (a fake: the tests are about serving, not answers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from server_helpers import API_KEY, reasoning_model, recalling_model

from ponder.agents.models.testing import FunctionChatModel
from ponder.constitution import default_policy_path, load_policy
from ponder.graphs import build_assistant
from ponder.graphs.server import create_app
from ponder.graphs.settings import Settings
from ponder.knowledge import ChromaStore
from ponder.knowledge.testing import HashingEmbedder


def main(url: str, data_dir: Path, port: int) -> None:
    settings = Settings(
        data_dir=data_dir,
        checkpoint_url=url,
        audit_url=url,
        classifier=False,
        answers={"claim_check": False},
        server={"api_keys": [API_KEY], "max_concurrent": 3},
    )
    assistant = build_assistant(
        settings,
        language_model=recalling_model(delay_s=0.05),
        reasoning_model=FunctionChatModel(reasoning_model),
        policy=load_policy(default_policy_path()),
        store=ChromaStore.embedded(data_dir / "chroma", embedder=HashingEmbedder()),
    )
    uvicorn.run(create_app(assistant, settings), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
