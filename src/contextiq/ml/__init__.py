"""Recommendation models for Context IQ.

The service uses four names, each imported from its module (this package imports none of them,
so that reading a module of it that needs no PyTorch, such as `registry`, loads none):

- `families.make_model(name="blend", seed=0) -> Recommender`: an unfitted model of a family
  named in `families.MODEL_FAMILIES` (the `CONTEXTIQ_MODEL` setting); "blend" is the default
  the API serves and the benchmarks measure.
- `train.train_candidate(interactions, items, current, seed=0, model="blend") -> TrainReport`:
  carves a validation split from the given data, fits a candidate on the rest, scores
  candidate and `current` on that same split (nDCG@10, Recall@10, Precision@10, MAP@10, HR@10,
  AUC), refits the candidate on all data and says whether to promote it.
- `registry.ModelRegistry(model_dir)`: versioned artifacts on disk; `save`, `register`
  (save + promote when allowed), `load`, `active_version`, `promote`, `versions`.
- `train.TrainReport`: the result of `train_candidate`.

Every model implements `Recommender` (see `base.py`): a user is their history at call
time, so new users and fresh interactions need no retraining.

Families: `embedding.EmbeddingRecommender` (the PyTorch user/content embedding model, scored
by dot product), `ease.EaseRecommender` (closed-form linear autoencoder) and
`blend.BlendRecommender` (the default: named parts, EASE, the embedding and, on timed data,
`transitions.ItemTransitions` and `sequence.SequenceRecommender`, mixed with shares and a
recency boost chosen on validation by `blend_choice`); the sequential model (SASRec-style) is
also a family of its own, "sequence". Retrieval is exact
(`index.top_k`) unless `enable_ann` switches a large catalogue to candidates: the embedding's
and the sequential model's from their saved faiss IVF indexes (`retrieval.py`,
`index.InnerProductIndex`), mixed as `candidates.py` says;
a saved blend carries every item's neighbours (`neighbours.py`).
`autorec.AutoRecRating` predicts explicit ratings for the rating protocol (`rating.BiasedMF`
is its peer). Offline commands live in `contextiq.cli.ml`; how quality is measured is in
docs/evaluation.md.
"""
