"""Demo data and importers."""

import json
from datetime import UTC, datetime
from pathlib import Path

from contextiq.config import Settings
from contextiq.data import importers
from contextiq.data.demo import generate
from contextiq.domain import InteractionType

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)


def test_demo_data_is_deterministic_and_readable() -> None:
    a = generate(SETTINGS, seed=7, n_items=200, n_users=30, anchor=ANCHOR)
    b = generate(SETTINGS, seed=7, n_items=200, n_users=30, anchor=ANCHOR)
    assert a == b
    assert a.contents[0].content_id == "content_0001"
    assert len({c.category for c in a.contents}) == 10
    assert all(c.title and c.description and c.tags for c in a.contents)
    users = {i.user_id for i in a.interactions}
    assert "user_001" in users
    assert len(users) == 30
    assert generate(SETTINGS, seed=8, n_items=200, n_users=30, anchor=ANCHOR) != a


def test_demo_users_have_a_learnable_taste() -> None:
    data = generate(SETTINGS, seed=1, n_items=500, n_users=50, anchor=ANCHOR)
    category = {c.content_id: c.category for c in data.contents}
    for user in ("user_001", "user_002", "user_003"):
        liked = [
            category[i.content_id]
            for i in data.interactions
            if i.user_id == user and i.interaction_type is not InteractionType.DISLIKE
        ]
        top_three = sorted((liked.count(c) for c in set(liked)), reverse=True)[:3]
        assert sum(top_three) / len(liked) > 0.8


def test_generic_csv_and_jsonl_import(tmp_path: Path) -> None:
    content = tmp_path / "content.csv"
    content.write_text("content_id,title,category,tags\na1,First,news,x|y\na2,Second,news,\n")
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                {"user_id": "u1", "content_id": "a1", "interaction_type": "like"},
                {
                    "user_id": "u1",
                    "content_id": "a2",
                    "interaction_type": "view",
                    "duration_seconds": 60,
                    "timestamp": "2026-01-02T03:04:05Z",
                },
            )
        )
    )
    data = importers.generic(content, events, SETTINGS)
    assert [c.tags for c in data.contents] == [("x", "y"), ()]
    assert [i.interaction_type for i in data.interactions] == ["like", "view"]
    assert data.interactions[1].weight > SETTINGS.weight_view
    assert data.interactions[1].occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    again = importers.generic(content, events, SETTINGS)
    assert [i.event_id for i in again.interactions] == [i.event_id for i in data.interactions]


def test_ratings_map_to_interaction_types() -> None:
    assert importers.rating_type(5) is InteractionType.SAVE
    assert importers.rating_type(4) is InteractionType.LIKE
    assert importers.rating_type(3) is InteractionType.VIEW
    assert importers.rating_type(1.5) is InteractionType.DISLIKE
