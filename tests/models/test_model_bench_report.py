"""The model benchmark's ratios and targets come from one run's numbers."""

from __future__ import annotations

from bench.model_report import render_table, summarize

RESULTS = {
    "prefill_tok_s": {
        "smollm2-135m": {"auto": {"b1": 440.0, "b8": 500.0}, "bfloat16": {"b1": 66.0, "b8": 70}}
    },
    "decode_tok_s": {
        "smollm2-135m": {"auto": {"b1": 24.0, "b8": 90.0}, "bfloat16": {"b1": 30.0, "b8": 95}}
    },
    "prefix_reuse": {
        "smollm2-135m": {
            "auto": {"seconds_without": 6.0, "seconds_with": 1.0},
            "bfloat16": {"seconds_without": 30.0, "seconds_with": 3.0},
        }
    },
    "ask_seconds": {
        "baseline": {"knowledge": 20.0, "arithmetic": 30.0},
        "new": {"knowledge": 5.0, "arithmetic": 12.0},
    },
    "search_seconds": {"baseline": 100.0, "new": 20.0, "new_no_reuse": 40.0},
    "search_details": {"new": {"chain": ["a", "b"]}, "new_no_reuse": {"chain": ["a", "b"]}},
    "load_average": {"speed": {"before": [1.0, 1.0, 1.0]}},
}


def test_ratios_compare_the_default_auto_dtype_and_reuse_with_the_baseline() -> None:
    summary = summarize(RESULTS)

    assert summary["ratios"]["prefill/smollm2-135m"] == 6.67
    assert summary["ratios"]["decode/smollm2-135m"] == 0.8
    assert summary["ratios"]["ask_knowledge"] == 4.0
    assert summary["ratios"]["search"] == 5.0
    assert summary["ratios"]["search_text_identical_with_and_without_reuse"] is True
    targets = summary["targets"]
    assert targets["prefill/smollm2-135m"]["met"]
    assert not targets["decode/smollm2-135m"]["met"]
    assert targets["ask_knowledge"]["met"] and targets["search"]["met"]
    assert "ask_arithmetic" not in targets  # reported, not a target


def test_the_table_shows_every_dtype_and_each_unmet_target() -> None:
    table = render_table({**RESULTS, **summarize(RESULTS)})

    assert "| smollm2-135m | bfloat16 | 66.0 | 8.48 |" in table
    assert "| ask knowledge | 20.0 | 5.0 | 4.00x |" in table
    assert "| decode/smollm2-135m | 0.80 | 0.9 | NO |" in table
