"""The default blend's choices on validation: mixing weight and how much recent items count."""

import random
from dataclasses import replace

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.blend import BlendConfig, BlendRecommender
from contextiq.ml.data import Recency
from contextiq.ml.ease import EaseConfig
from tests.ml import synthetic
from tests.ml.test_families import small_embedding

RING = 40


def drifting_users(seed: int = 0) -> list[WeightedInteraction]:
    """Each user walks along a ring of items, one step per event: the next item is the last + 1."""
    rng = random.Random(seed)
    events = []
    for u in range(80):
        start = rng.randrange(RING)
        for step in range(10):
            item = f"item-{(start + step) % RING}"
            events.append(WeightedInteraction(f"user-{u}", item, 1.0, float(step)))
    return events


def blend(**overrides: float) -> BlendRecommender:
    config = BlendConfig(embedding=small_embedding(0), ease=EaseConfig(l2_grid=(1.0, 10.0)))
    return BlendRecommender(replace(config, **overrides))


def test_recent_items_count_more_when_the_latest_events_say_so() -> None:
    model = blend(random_tolerance=1.0).fit(drifting_users())
    assert model.mix.recency.boost > 0
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}  # oldest first: item-19 is the latest
    best = model.recommend(walked, 1, exclude=walked)[0][0]
    assert best == "item-20"


def test_without_timestamps_every_item_of_a_history_counts_alike() -> None:
    untimed = [replace(e, timestamp=None) for e in synthetic.interactions()]
    model = blend().fit(untimed, synthetic.catalogue())
    assert model.mix.recency == Recency()
    assert model.mix.transitions == 0
