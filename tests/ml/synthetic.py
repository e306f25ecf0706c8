"""A tiny clustered world with a known answer: users only like items of one category."""

import random

from contextiq.ml.base import ItemFeatures, WeightedInteraction

CLUSTERS = 4
ITEMS_PER_CLUSTER = 12
USERS = 60


def cluster_of(item_id: str) -> int:
    return int(item_id.split("-")[1]) // ITEMS_PER_CLUSTER


def catalogue() -> list[ItemFeatures]:
    return [
        ItemFeatures(
            f"item-{j}",
            title=f"story about topic{j // ITEMS_PER_CLUSTER}",
            category=f"cat{j // ITEMS_PER_CLUSTER}",
            tags=(f"tag{j // ITEMS_PER_CLUSTER}", "common"),
        )
        for j in range(CLUSTERS * ITEMS_PER_CLUSTER)
    ]


def interactions(seed: int = 0) -> list[WeightedInteraction]:
    rng = random.Random(seed)
    events = []
    clock = 0.0
    for u in range(USERS):
        cluster = u % CLUSTERS
        liked = rng.sample(range(ITEMS_PER_CLUSTER), 7)
        for j in liked:
            clock += 1.0
            item = f"item-{cluster * ITEMS_PER_CLUSTER + j}"
            events.append(WeightedInteraction(f"user-{u}", item, rng.choice([1.0, 3.0]), clock))
    return events


def new_item(cluster: int) -> ItemFeatures:
    return ItemFeatures(
        f"new-{cluster}",
        title=f"fresh story about topic{cluster}",
        category=f"cat{cluster}",
        tags=(f"tag{cluster}", "common"),
    )
