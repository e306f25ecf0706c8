"""Publish a trained model again with this version's serving files (ANN index, neighbours).

A model trained before the index and the neighbour table were saved with it still serves (the
index is then built at load, neighbours scored on demand); saving it again through the
registry adds both, as `contextiq train` now does.

    .venv/bin/python bench/resave_model.py --source /tmp/run/models --models /tmp/scale/models
"""

import argparse
import logging
import time
from dataclasses import asdict
from pathlib import Path

from contextiq.ml.registry import ModelRegistry
from contextiq.ml.train import TrainReport


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, required=True, help="a model registry folder")
    parser.add_argument("--version", default=None, help="default: the source's active version")
    parser.add_argument("--models", type=Path, required=True, help="the registry to publish to")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    source = ModelRegistry(args.source)
    version = args.version or source.active_version()
    if version is None:
        raise SystemExit(f"{args.source} has no active model")
    info = asdict(source.info(version))
    model = source.load(version)
    started = time.perf_counter()
    published = ("version", "created_at", "model_class")  # the registry sets these anew
    report = TrainReport(model, **{k: v for k, v in info.items() if k not in published})
    target = ModelRegistry(args.models)
    saved = target.save(model, report)
    target.promote(saved)
    print(f"{version} saved again as {saved} in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
