import json
from typing import Any

import pytest

from contextiq.llm.base import LLMScore, MalformedReply
from contextiq.llm.reply import parse_reply

IDS = ["a", "b"]


def _reply(*items: tuple[str, Any, str]) -> str:
    return json.dumps([{"content_id": i, "score": s, "reason": r} for i, s, r in items])


def test_valid_reply_is_parsed() -> None:
    text = _reply(("a", 0.8, "sci-fi"), ("b", 0.1, ""))
    assert parse_reply(text, IDS) == {"a": LLMScore(0.8, "sci-fi"), "b": LLMScore(0.1, "")}


def test_scores_are_clamped_and_unknown_ids_ignored() -> None:
    text = _reply(("a", 7, "x"), ("b", -2, "y"), ("zzz", 0.5, "z"))
    assert parse_reply(text, IDS) == {"a": LLMScore(1.0, "x"), "b": LLMScore(0.0, "y")}


def test_one_markdown_fence_is_accepted() -> None:
    text = '```json\n[{"content_id": "a", "score": 0.5, "reason": "ok"}]\n```'
    assert parse_reply(text, IDS) == {"a": LLMScore(0.5, "ok")}


def test_first_score_for_a_duplicated_id_wins() -> None:
    text = _reply(("a", 0.3, "1"), ("a", 0.9, "2"))
    assert parse_reply(text, IDS) == {"a": LLMScore(0.3, "1")}


@pytest.mark.parametrize(
    "text",
    [
        "Sure! Here are the scores you asked for.",
        '{"content_id": "a", "score": 0.5}',
        '[{"content_id": "a", "score": "high", "reason": "x"}]',
        '[{"content_id": "a", "score": true, "reason": "a match"}]',
        '[{"content_id": "a", "reason": "x"}]',
        '[{"content_id": "a", "score": NaN, "reason": "x"}]',
        '[{"content_id": "zzz", "score": 0.5, "reason": "x"}]',
        "[]",
        "",
    ],
)
def test_malformed_replies_raise_scorer_failures(text: str) -> None:
    with pytest.raises(MalformedReply):
        parse_reply(text, IDS)


def test_reasons_are_flattened_and_truncated() -> None:
    text = (
        '[{"content_id": "a", "score": 0.5, "reason": "line one\\n\\nline two ' + "x" * 500 + '"}]'
    )
    reason = parse_reply(text, IDS)["a"].reason
    assert reason.startswith("line one line two")
    assert len(reason) == 200


def test_control_and_invisible_characters_leave_the_reason() -> None:
    """Terminal escapes, a bell, a right-to-left override (text shown reversed) or a zero-width
    space reach every client as they are; only what prints is kept."""
    text = _reply(("a", 0.5, "a\x07 good\x1b match\u202e\x7f for\u200b\u2028you\x00"))
    assert parse_reply(text, IDS)["a"].reason == "a good match for you"
