from contextiq.ml.base import WeightedInteraction
from contextiq.ml.rating import RatingConfig, RatingModel, bias_baseline


def ratings() -> list[WeightedInteraction]:
    """Item 'good' is rated 5 by everyone, 'bad' 1; user 'harsh' rates one star lower."""
    out = []
    for u in range(20):
        user = "harsh" if u == 0 else f"u{u}"
        for item, value in (("good", 5.0), ("bad", 2.0), ("mid", 3.5)):
            out.append(WeightedInteraction(user, item, value - (1.0 if u == 0 else 0.0)))
    return out


def test_biases_recover_item_and_user_offsets() -> None:
    model = bias_baseline(ratings())
    good, bad = model.predict([("u1", "good"), ("u1", "bad")])
    assert good > 4.5 and bad < 2.5
    harsh, kind = model.predict([("harsh", "mid"), ("u1", "mid")])
    assert harsh < kind


def test_factor_model_predicts_within_the_rating_range_and_handles_unknowns() -> None:
    model = RatingModel(RatingConfig(dim=4, max_steps=200)).fit(ratings())
    pairs = [("u1", "good"), ("stranger", "good"), ("stranger", "bad"), ("u1", "unknown")]
    predictions = model.predict(pairs)
    assert all(1.0 <= p <= 5.0 for p in predictions)
    assert predictions[0] > 4.0
    assert predictions[1] > predictions[2]  # unknown user: item biases still apply
