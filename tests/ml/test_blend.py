"""The default blend: its choices on validation (weights, recency, transitions) and its parts."""

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.blend import BlendConfig, BlendRecommender, standard_parts
from contextiq.ml.blend_choice import ChoiceConfig, Mix
from contextiq.ml.blend_parts import EmbeddingPart
from contextiq.ml.data import Recency
from contextiq.ml.ease import EaseConfig
from contextiq.ml.families import make_model
from tests.ml import synthetic
from tests.ml.test_families import small_embedding, small_sequence

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


def blend(random_tolerance: float = 0.01, n_parts: int = 4) -> BlendRecommender:
    parts = standard_parts(
        EaseConfig(l2_grid=(1.0, 10.0)), small_embedding(0), sequence=small_sequence(0)
    )[:n_parts]
    return BlendRecommender(
        BlendConfig(parts=parts, choice=ChoiceConfig(random_tolerance=random_tolerance))
    )


def test_recent_items_count_more_when_the_latest_events_say_so() -> None:
    model = blend(random_tolerance=1.0, n_parts=3).fit(drifting_users())
    assert model.mix.recency.boost > 0
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}  # oldest first: item-19 is the latest
    best = model.recommend(walked, 1, exclude=walked)[0][0]
    assert best == "item-20"


def test_a_walk_in_order_is_left_to_the_sequence_part() -> None:
    model = blend(random_tolerance=1.0).fit(drifting_users())
    assert model.mix.share("sequence") > 0.5
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}
    assert model.recommend(walked, 1, exclude=walked)[0][0] == "item-20"


def test_blend_next_ranks_the_next_step_of_a_walk_first_where_the_default_does_not() -> None:
    walked = {f"item-{j}": 1.0 for j in range(10, 20)}
    default = make_model("blend").fit(drifting_users())
    assert default.recommend(walked, 1, exclude=walked)[0][0] != "item-20"
    model = make_model("blend-next").fit(drifting_users())
    assert isinstance(model, BlendRecommender) and model.mix.share("sequence") > 0
    assert model.recommend(walked, 1, exclude=walked)[0][0] == "item-20"


def test_without_timestamps_every_item_of_a_history_counts_alike() -> None:
    untimed = [replace(e, timestamp=None) for e in synthetic.interactions()]
    model = blend().fit(untimed, synthetic.catalogue())
    assert model.mix.recency == Recency()
    assert model.mix.share("transitions") == 0
    assert "transitions" not in model.parts


def mixed_with_transitions() -> BlendRecommender:
    """A blend refit with a fixed mix in which transitions carry a share."""
    events = drifting_users()
    model = blend(n_parts=3).fit(events)
    model.mix = Mix({"embedding": 0.5, "transitions": 0.3}, Recency(1.0))
    return model.refit(events)


def mixed_with_sequence() -> BlendRecommender:
    """A blend refit with a fixed mix in which the sequential part carries a share."""
    events = drifting_users()
    model = blend().fit(events)
    model.mix = Mix({"embedding": 0.5, "transitions": 0.0, "sequence": 0.5}, Recency(1.0))
    return model.refit(events)


def test_a_mix_with_transitions_survives_save_and_load(tmp_path: Path) -> None:
    model = mixed_with_transitions()
    model.save(tmp_path / "blend")
    loaded = BlendRecommender.load(tmp_path / "blend")
    walked = {"item-3": 1.0, "item-4": 1.0}
    assert loaded.mix == model.mix
    np.testing.assert_array_equal(loaded.scores(walked), model.scores(walked))
    assert {i for i, _ in model.recommend(walked, 2, exclude=walked)} == {"item-2", "item-5"}


def test_ann_retrieval_agrees_with_exact_scoring_with_transitions_in_the_mix() -> None:
    model = mixed_with_transitions()
    walked = {"item-10": 1.0, "item-11": 1.0, "item-30": -1.0}
    exact = model.recommend(walked, 5, exclude=walked)
    model.enable_ann(min_items=1)
    embedding = model.parts["embedding"]
    assert isinstance(embedding, EmbeddingPart) and embedding.model.uses_ann
    approximate = model.recommend(walked, 5, exclude=walked)
    assert [i for i, _ in approximate] == [i for i, _ in exact]
    np.testing.assert_allclose([s for _, s in approximate], [s for _, s in exact], rtol=1e-4)


def test_a_blend_saved_before_transitions_still_loads(tmp_path: Path) -> None:
    model = blend(n_parts=2).fit(synthetic.interactions(), synthetic.catalogue())
    model.save(tmp_path / "blend")
    meta = json.loads((tmp_path / "blend" / "blend.json").read_text())
    weight, recency = meta["mix"]["shares"]["embedding"], meta["mix"]["recency"]
    legacy = {"config": {}, "weight": weight, "recency": recency}
    (tmp_path / "blend" / "blend.json").write_text(json.dumps(legacy))
    loaded = BlendRecommender.load(tmp_path / "blend")
    assert loaded.mix == Mix({**model.mix.shares, "transitions": 0.0}, model.mix.recency)
    np.testing.assert_array_equal(loaded.scores({"item-3": 1.0}), model.scores({"item-3": 1.0}))


def test_a_blend_saved_before_its_parts_had_names_still_loads(tmp_path: Path) -> None:
    model = mixed_with_transitions()
    model.save(tmp_path / "blend")
    meta = json.loads((tmp_path / "blend" / "blend.json").read_text())
    shares, recency = meta["mix"]["shares"], meta["mix"]["recency"]
    mix = {"weight": shares["embedding"], "recency": recency, "transitions": shares["transitions"]}
    legacy = {"mix": mix, "config": {}}
    (tmp_path / "blend" / "blend.json").write_text(json.dumps(legacy))
    loaded = BlendRecommender.load(tmp_path / "blend")
    walked = {"item-3": 1.0, "item-4": 1.0}
    assert loaded.mix == model.mix
    np.testing.assert_array_equal(loaded.scores(walked), model.scores(walked))


def test_parts_are_named_and_a_blend_of_two_mixes_only_those() -> None:
    parts = standard_parts(EaseConfig(l2_grid=(1.0, 10.0)), small_embedding(0))[:2]
    model = BlendRecommender(BlendConfig(parts=parts)).fit(drifting_users())
    assert set(model.mix.shares) == {"embedding"}
    assert set(model.parts) <= {"ease", "embedding"}
    assert len(model.recommend({"item-3": 1.0}, 5)) == 5


def test_unknown_part_kinds_are_refused() -> None:
    parts = standard_parts()
    renamed = (replace(parts[0], name="mystery"), *parts[1:])
    try:
        BlendConfig(parts=renamed)
    except ValueError as error:
        assert "mystery" in str(error) and "ease" in str(error)
    else:
        raise AssertionError("an unknown part kind was accepted")


def test_the_sequence_part_reads_order_and_survives_save_and_load(tmp_path: Path) -> None:
    events = drifting_users()
    model = blend().fit(events)
    model.mix = Mix({"embedding": 0.0, "transitions": 0.0, "sequence": 0.8}, Recency())
    model = model.refit(events)
    assert set(model.parts) == {"ease", "sequence"}
    forward = {"item-3": 1.0, "item-4": 1.0, "item-5": 1.0}
    backward = {"item-5": 1.0, "item-4": 1.0, "item-3": 1.0}
    assert model.recommend(forward, 1, exclude=forward)[0][0] == "item-6"
    assert model.recommend(backward, 1, exclude=backward)[0][0] == "item-2"
    batched = model.score_histories([forward, backward])
    np.testing.assert_allclose(batched[0], model.scores(forward), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(batched[1], model.scores(backward), rtol=1e-4, atol=1e-5)
    model.save(tmp_path / "blend")
    loaded = BlendRecommender.load(tmp_path / "blend")
    np.testing.assert_array_equal(loaded.scores(forward), model.scores(forward))


def test_without_timestamps_the_sequence_part_is_not_fitted() -> None:
    untimed = [replace(e, timestamp=None) for e in drifting_users()]
    model = blend().fit(untimed)
    assert "sequence" not in model.parts and model.mix.share("sequence") == 0


def test_a_large_candidate_is_judged_without_refitting_its_parts_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = synthetic.interactions()
    refits: list[int] = []
    real_refit = BlendRecommender.refit

    def counted(
        self: BlendRecommender, events: list[WeightedInteraction], items: object = ()
    ) -> BlendRecommender:
        refits.append(len(events))
        return real_refit(self, events, synthetic.catalogue())

    monkeypatch.setattr(BlendRecommender, "refit", counted)
    blend().fit_candidate(events, synthetic.catalogue())
    assert refits == [len(events)]  # small data: fitted as always, then refit on everything
    refits.clear()
    monkeypatch.setattr("contextiq.ml.blend.LARGE_EVENTS", 1)
    model = blend().fit_candidate(events, synthetic.catalogue())
    assert refits == []  # large data: the parts as fitted on the blend's own split
    assert set(model.parts) == {n for n, c in model.mix.coefficients(model.order).items() if c > 0}
    history = {"item-0": 1.0, "item-1": 1.0}
    assert len(model.recommend(history, 5, exclude=history)) == 5
