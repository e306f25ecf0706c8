"""train_candidate on the synthetic world, with the default pipeline."""

import numpy as np
import pytest

from contextiq.ml.base import WeightedInteraction
from contextiq.ml.train import trails_beyond_noise, train_candidate, unseen_by
from tests.ml import synthetic

METRICS = {"ndcg@10", "recall@10", "precision@10", "map@10", "hr@10", "auc"}


def test_first_candidate_is_promoted_and_refit_on_everything() -> None:
    report = train_candidate(synthetic.interactions(), synthetic.catalogue(), None)
    assert set(report.metrics) == METRICS
    assert report.current_metrics is None and report.promote
    assert report.metrics["auc"] > 0.9
    assert (report.n_users, report.n_items) == (synthetic.USERS, len(synthetic.catalogue()))
    assert report.n_interactions == len(synthetic.interactions())


def test_candidate_and_current_are_compared_on_held_out_events_newer_than_the_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("contextiq.ml.train.MIN_COMPARED_USERS", 10)
    events = synthetic.interactions()  # one user after another in time
    older = [e for e in events if (e.timestamp or 0) <= events[len(events) // 2].timestamp]
    first = train_candidate(older, synthetic.catalogue(), None)
    assert first.trained_until == events[len(events) // 2].timestamp
    report = train_candidate(
        events, synthetic.catalogue(), first.model, 0, "blend", first.trained_until
    )
    assert report.current_metrics is not None and report.compared_metrics is not None
    assert set(report.current_metrics) == set(report.compared_metrics) == METRICS
    # Both learnt the same world: on 30 users neither is ahead beyond noise.
    assert report.promote
    assert report.compared_metrics != report.metrics  # fewer users than all held-out events


def test_a_current_model_that_saw_every_held_out_event_is_not_compared() -> None:
    # Trained on everything, it would score the held-out events as if it had predicted them.
    events = synthetic.interactions()
    current = train_candidate(events, synthetic.catalogue(), None)
    again = train_candidate(
        events, synthetic.catalogue(), current.model, 0, "blend", current.trained_until
    )
    assert again.current_metrics is None and again.compared_metrics is None and again.promote
    untimed = train_candidate(events, synthetic.catalogue(), current.model)
    assert untimed.current_metrics is None and untimed.promote


def test_unseen_events_are_those_newer_than_the_cutoff() -> None:
    events = [WeightedInteraction("u", f"i{t}", 1.0, t) for t in (1.0, 2.0, 3.0)]
    events.append(WeightedInteraction("u", "untimed", 1.0))
    assert [e.item_id for e in unseen_by(2.0, events)] == ["i3.0"]
    assert unseen_by(None, events) == []


def test_a_candidate_is_rejected_only_when_it_trails_beyond_noise() -> None:
    rng = np.random.default_rng(0)
    current = rng.uniform(0, 1, 400)
    assert trails_beyond_noise(current - 0.1, current, 2.0)  # every user worse
    noisy = current + rng.normal(0, 0.3, 400) - 0.01  # 1 % lower on average, noise 0.3
    assert not trails_beyond_noise(noisy, current, 2.0)
    assert not trails_beyond_noise(current, current, 2.0)
