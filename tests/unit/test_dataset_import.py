"""Importers on the real public datasets, read from ../shared (never copied into the repo)."""

from contextiq.config import Settings
from contextiq.data import importers
from tests.services import datasets_dir

SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


def test_movielens_100k() -> None:
    data = importers.movielens_100k(datasets_dir() / "ml-100k", SETTINGS)
    assert len(data.contents) == 1682
    assert len(data.interactions) == 100_000
    first = data.interactions[0]
    assert (first.user_id, first.content_id, first.interaction_type) == ("u196", "m242", "view")
    toy_story = next(c for c in data.contents if c.content_id == "m1")
    assert toy_story.title == "Toy Story (1995)"
    assert set(toy_story.tags) == {"animation", "children", "comedy"}


def test_movielens_latest_small() -> None:
    data = importers.movielens_small(datasets_dir() / "ml-latest-small", SETTINGS)
    assert len(data.contents) == 9742
    assert len(data.interactions) == 100_836
    assert len({i.user_id for i in data.interactions}) == 610
    assert any(len(c.tags) > 3 for c in data.contents)  # user tags joined to genres
