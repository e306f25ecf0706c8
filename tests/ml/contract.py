"""The contract every model family satisfies; each family's test class mixes this in."""

import copy
from pathlib import Path
from typing import ClassVar

import numpy as np

from contextiq.ml.base import Recommender
from contextiq.ml.scoring import ScoringRecommender
from tests.ml import synthetic


class RecommenderContract:
    """Fitting is the slow part, so each family fits once per seed and tests get copies."""

    _fitted: ClassVar[dict[tuple[type, int], Recommender]] = {}

    def make(self, seed: int = 0) -> Recommender:
        raise NotImplementedError

    def fitted(self, seed: int = 0) -> Recommender:
        key = (type(self), seed)
        if key not in self._fitted:
            model = self.make(seed).fit(synthetic.interactions(), synthetic.catalogue())
            self._fitted[key] = model
        return copy.deepcopy(self._fitted[key])

    def test_fit_knows_every_catalogue_item(self) -> None:
        model = self.fitted()
        assert set(model.item_ids) == {i.item_id for i in synthetic.catalogue()}

    def test_recommendations_follow_the_history(self) -> None:
        model = self.fitted()
        history = {"item-0": 3.0, "item-1": 1.0, "item-2": 1.0}
        top = model.recommend(history, 5, exclude=history)
        assert [synthetic.cluster_of(i) for i, _ in top] == [0] * 5

    def test_recommend_excludes_and_orders_best_first(self) -> None:
        model = self.fitted()
        history = {"item-12": 1.0}
        excluded = {"item-12", "item-13", "item-14"}
        top = model.recommend(history, 10, exclude=excluded)
        assert len(top) == 10
        assert not excluded & {i for i, _ in top}
        scores = [s for _, s in top]
        assert scores == sorted(scores, reverse=True)

    def test_many_histories_at_once_get_what_each_gets_alone(self) -> None:
        model = self.fitted()
        ids = model.item_ids
        histories = [{"item-0": 3.0, "item-1": 1.0}, {"item-12": 1.0}, {}]
        found, scores = model.recommend_histories(histories, 6)
        for row, history in enumerate(histories):
            alone = model.recommend(history, 6, exclude=history)
            assert [ids[j] for j in found[row] if j >= 0] == [i for i, _ in alone]
            np.testing.assert_allclose(scores[row][: len(alone)], [s for _, s in alone], rtol=1e-4)

    def test_allowed_mask_filters_inside_retrieval(self) -> None:
        model = self.fitted()
        history = {"item-0": 3.0, "item-1": 1.0}
        allowed = np.zeros(len(model.item_ids), np.bool_)
        allowed[-6:] = True  # a selective filter: far from the history's cluster
        passing = set(list(model.item_ids)[-6:])
        for ann in (False, True):
            if ann and isinstance(model, ScoringRecommender):
                model.enable_ann(min_items=1)
            top = model.recommend(history, 5, exclude=history, allowed=allowed)
            assert len(top) == 5
            assert {i for i, _ in top} <= passing
        model.add_items([synthetic.new_item(2)])  # past the mask's end: not allowed
        top = model.recommend(history, 10, exclude=history, allowed=allowed)
        assert {i for i, _ in top} == passing

    def test_similar_items_exclude_the_item_itself(self) -> None:
        model = self.fitted()
        similar = model.similar_items("item-24", 5)
        assert "item-24" not in {i for i, _ in similar}
        assert [synthetic.cluster_of(i) for i, _ in similar] == [2] * 5

    def test_added_items_are_scorable_from_features(self) -> None:
        model = self.fitted()
        model.add_items([synthetic.new_item(1)])
        assert "new-1" in model.item_ids
        history = {f"item-{12 + j}": 1.0 for j in range(6)}
        ranked = [i for i, _ in model.recommend(history, len(model.item_ids), exclude=history)]
        # Placed among its own category's items, ahead of every other category.
        assert ranked.index("new-1") < 12

    def test_save_load_round_trip_gives_identical_scores(self, tmp_path: Path) -> None:
        model = self.fitted()
        model.save(tmp_path / "model")
        loaded = type(model).load(tmp_path / "model")
        history = {"item-3": 1.0, "item-40": -1.0}
        assert loaded.item_ids == model.item_ids
        assert loaded.recommend(history, 10) == model.recommend(history, 10)
        if isinstance(model, ScoringRecommender) and isinstance(loaded, ScoringRecommender):
            np.testing.assert_array_equal(loaded.scores(history), model.scores(history))

    def test_refit_learns_new_data_and_keeps_following_the_history(self) -> None:
        model = self.fitted()
        catalogue = [*synthetic.catalogue(), synthetic.new_item(2)]
        refitted = model.refit(synthetic.interactions(seed=1), catalogue)
        assert "new-2" in refitted.item_ids
        history = {"item-0": 3.0, "item-1": 1.0, "item-2": 1.0}
        top = refitted.recommend(history, 5, exclude=history)
        assert [synthetic.cluster_of(i) for i, _ in top] == [0] * 5

    def test_same_seed_same_model(self) -> None:
        history = {"item-5": 1.0, "item-30": 3.0}
        first = self.fitted(seed=3).recommend(history, 10)
        refit = self.make(seed=3).fit(synthetic.interactions(), synthetic.catalogue())
        second = refit.recommend(history, 10)
        assert first == second

    def test_new_user_history_is_folded_in_without_retraining(self) -> None:
        model = self.fitted()
        before = model.recommend({"item-0": 1.0}, 3, exclude={"item-0"})
        after = model.recommend({"item-36": 3.0}, 3, exclude={"item-36"})
        assert {synthetic.cluster_of(i) for i, _ in before} == {0}
        assert {synthetic.cluster_of(i) for i, _ in after} == {3}

    def test_ann_retrieval_agrees_with_exact_scoring(self) -> None:
        model = self.fitted()
        history = {"item-12": 3.0, "item-13": 1.0, "item-40": -1.0}
        exact = model.recommend(history, 5, exclude=history)
        if isinstance(model, ScoringRecommender):
            model.enable_ann(min_items=1)  # a graph over 48 items finds every neighbour
        approximate = model.recommend(history, 5, exclude=history)
        assert [i for i, _ in approximate] == [i for i, _ in exact]
        np.testing.assert_allclose([s for _, s in approximate], [s for _, s in exact], rtol=1e-4)
        model.add_items([synthetic.new_item(1)])
        assert "new-1" in {i for i, _ in model.recommend(history, 48, exclude=history)}
