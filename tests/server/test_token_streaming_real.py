"""A streamed answer from the real model (SmolLM2-135M) over the OpenAI client: the text
the client assembles from its deltas is the text the thread saved."""

from __future__ import annotations

import pytest
from server_helpers import client

pytestmark = pytest.mark.real_model

STORY = [{"role": "user", "content": "Tell me a short story about a lighthouse keeper."}]


def test_the_real_models_streamed_answer_is_the_saved_answer(serve, smollm2):
    settings = {"classifier": False, "release": {"chunk_chars": 40, "overlap_chars": 30}}
    url, app = serve(smollm2, **settings)

    chunks = list(
        client(url).chat.completions.create(
            model="ponder",
            messages=STORY,
            stream=True,
            max_tokens=48,
            stream_options={"include_usage": True},
            extra_headers={"X-Ponder-Thread": "real"},
        )
    )

    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    text = "".join(deltas)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert len(deltas) > 2 and text.strip()  # released in pieces, not whole
    assert app.state.ponder.assistant.history("real")[-1] == {"role": "assistant", "content": text}
    assert 0 < chunks[-1].usage.completion_tokens <= 48
