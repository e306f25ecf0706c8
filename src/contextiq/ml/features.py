"""Content features (category, tags, title/text words) as a sparse item x token matrix.

New items are described by the same vocabulary, which is what lets a model place
content nobody has touched yet.
"""

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from contextiq.ml.base import ItemFeatures

_WORD = re.compile(r"[a-z0-9]{3,}")
_STOPWORDS = frozenset({"the", "and", "for", "with", "from", "this", "that", "are", "was"})


def item_tokens(item: ItemFeatures) -> list[str]:
    """Prefixed tokens so a category and a title word with the same spelling stay distinct."""
    tokens = []
    if item.category:
        tokens.append("c:" + item.category.strip().lower())
    tokens.extend("t:" + t.strip().lower() for t in item.tags if t.strip())
    words = _WORD.findall(f"{item.title} {item.text}".lower())
    tokens.extend("w:" + w for w in words if w not in _STOPWORDS)
    return tokens


class FeatureVocabulary:
    """Token -> column map learned at fit time; unknown tokens of later items are ignored."""

    def __init__(self, tokens: Sequence[str] = ()) -> None:
        self.tokens = list(tokens)
        self._index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def fit(
        cls, items: Sequence[ItemFeatures], min_count: int = 2, max_size: int = 20_000
    ) -> "FeatureVocabulary":
        counts: Counter[str] = Counter()
        for item in items:
            counts.update(set(item_tokens(item)))
        kept = [t for t, c in counts.most_common(max_size) if c >= min_count]
        return cls(sorted(kept))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, items: Sequence[ItemFeatures | None]) -> sp.csr_matrix:
        """Rows L2-normalised so items with many tokens are not louder; `None` -> empty row."""
        rows: list[int] = []
        cols: list[int] = []
        for r, item in enumerate(items):
            if item is None:
                continue
            found = {self._index[t] for t in item_tokens(item) if t in self._index}
            rows.extend([r] * len(found))
            cols.extend(sorted(found))
        data = np.ones(len(rows), dtype=np.float32)
        matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(items), len(self.tokens)))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix, dtype=np.float32)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.tokens))

    @classmethod
    def load(cls, path: Path) -> "FeatureVocabulary":
        return cls(json.loads(path.read_text()))
