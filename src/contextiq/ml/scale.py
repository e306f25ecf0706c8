"""Where training switches to its bounded path for large data.

Below `LARGE_EVENTS` events (every public benchmark dataset: MovieLens-100K, latest-small,
Last.fm) training is exactly as before; above it, the parts that cost time in proportion to
the data or the catalogue take the cheaper path each documents (docs/evaluation.md,
"At catalogue scale").
"""

#: Events from which training takes the bounded path.
LARGE_EVENTS = 1_000_000
