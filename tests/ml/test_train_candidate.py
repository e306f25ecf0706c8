"""train_candidate on the synthetic world, with the default pipeline."""

from contextiq.ml import train_candidate
from contextiq.ml.protocols import latest_per_user_split
from tests.ml import synthetic

METRICS = {"ndcg@10", "recall@10", "precision@10", "map@10", "hr@10", "auc"}


def test_first_candidate_is_promoted_and_refit_on_everything() -> None:
    report = train_candidate(synthetic.interactions(), synthetic.catalogue(), None)
    assert set(report.metrics) == METRICS
    assert report.current_metrics is None and report.promote
    assert report.metrics["auc"] > 0.9
    assert (report.n_users, report.n_items) == (synthetic.USERS, len(synthetic.catalogue()))
    assert report.n_interactions == len(synthetic.interactions())


def test_candidate_and_current_are_scored_on_the_same_newest_events() -> None:
    events = synthetic.interactions()
    older, _ = latest_per_user_split(events, 0.2)
    current = train_candidate(older, synthetic.catalogue(), None).model
    report = train_candidate(events, synthetic.catalogue(), current)
    assert report.current_metrics is not None
    assert set(report.current_metrics) == METRICS
    # The serving model was trained on exactly the older events: the candidate matches it.
    assert report.promote
