"""One contract for every explicit-rating model, on a tiny problem with a known answer."""

import pytest
import torch

from contextiq.ml.autorec import AutoRecConfig, AutoRecRating, observed_squared_error
from contextiq.ml.base import WeightedInteraction
from contextiq.ml.rating import BiasedMF, RatingConfig


def ratings() -> list[WeightedInteraction]:
    """Item 'good' is rated 5 by everyone, 'bad' 2; user 'harsh' rates one star lower."""
    out = []
    for u in range(20):
        user = "harsh" if u == 0 else f"u{u}"
        for item, value in (("good", 5.0), ("bad", 2.0), ("mid", 3.5)):
            out.append(WeightedInteraction(user, item, value - (1.0 if u == 0 else 0.0)))
    return out


MODELS = {
    "biases only": lambda: BiasedMF(RatingConfig(dim=0)),
    "biased MF": lambda: BiasedMF(RatingConfig(dim=4, max_steps=200)),
    "I-AutoRec": lambda: AutoRecRating(AutoRecConfig(hidden=8, l2_grid=(0.1, 1.0), max_steps=800)),
}


@pytest.fixture(params=sorted(MODELS))
def model(request: pytest.FixtureRequest) -> BiasedMF | AutoRecRating:
    return MODELS[request.param]().fit(ratings())


def test_recovers_item_and_user_offsets(model: BiasedMF | AutoRecRating) -> None:
    good, bad = model.predict([("u1", "good"), ("u1", "bad")])
    assert good > 4.5 and bad < 2.5
    harsh, kind = model.predict([("harsh", "mid"), ("u1", "mid")])
    assert harsh < kind


def test_predicts_within_the_rating_range_and_handles_unknowns(
    model: BiasedMF | AutoRecRating,
) -> None:
    pairs = [("u1", "good"), ("stranger", "good"), ("stranger", "bad"), ("u1", "unknown")]
    predictions = model.predict(pairs)
    assert all(1.0 <= p <= 5.0 for p in predictions)
    assert predictions[0] > 4.0
    assert predictions[1] > predictions[2]  # unknown user: what is known of the item applies


def test_autorec_chooses_l2_and_steps_on_the_holdout() -> None:
    config = AutoRecConfig(hidden=8, l2_grid=(0.1, 1000.0), max_steps=800)
    model = AutoRecRating(config).fit(ratings())
    assert model.l2 == 0.1  # a huge L2 flattens every item to the same prediction
    assert 0 < model.trained_steps <= 800


def test_autorec_is_deterministic_with_a_seed() -> None:
    def predictions() -> list[float]:
        config = AutoRecConfig(hidden=8, l2_grid=(1.0,), max_steps=50)
        return AutoRecRating(config).fit(ratings()).predict([("u1", "mid"), ("harsh", "good")])

    assert predictions() == predictions()


def test_observed_squared_error_ignores_missing_entries() -> None:
    predicted = torch.tensor([[1.0, 9.0], [3.0, 0.0]])
    target = torch.tensor([[2.0, 0.0], [3.0, 5.0]])
    observed = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    assert float(observed_squared_error(predicted, target, observed)) == 1.0
