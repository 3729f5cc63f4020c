"""Sizing figures for README "Scaling out": what one worker process costs.

For each training size (MNIST, the ``notebook`` preset's settings: PCA to 50
components, the exact 20-bandwidth search over 5 folds, class-conditional as the
``sharp`` preset is), a fresh process trains once and reports its wall time and
its peak resident memory: a training worker's pool process needs that much. Then
one process samples generation-sized batches the way a generation job does (one
image at a time from its own seed, PNG encoding included) and reports images/s:
what one generation worker process delivers.

Usage::

    .venv/bin/python bench/sizing.py                    # 2000 10000 30000 60000
    .venv/bin/python bench/sizing.py --sizes 2000 10000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.render import image_to_png
from generator.settings import validate_settings
from generator.training import train_model

IMAGES = 200


def train_once(n_train: int) -> dict[str, float]:
    settings = validate_settings(
        {"n_train": n_train, "class_conditional": True}, preset="notebook"
    )
    started = time.perf_counter()
    result = train_model(settings)
    seconds = time.perf_counter() - started
    model = result.model
    started = time.perf_counter()
    for seed in range(IMAGES):
        image_to_png(model.sample(1, digit=seed % 10, random_state=seed)[0])
    images_per_second = IMAGES / (time.perf_counter() - started)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "n_train": n_train,
        "train_seconds": round(seconds, 2),
        "peak_mib": round(peak_mib),
        "images_per_second": round(images_per_second),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[2000, 10000, 30000, 60000]
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(train_once(args.one)))
        return
    print("| training images | training time | peak memory | images/s (one process) |")
    print("|---:|---:|---:|---:|")
    for size in args.sizes:
        # A fresh process each: peak memory is per training, as in a pool process.
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        row = json.loads(output.splitlines()[-1])
        print(
            f"| {row['n_train']:,} | {row['train_seconds']} s | "
            f"{row['peak_mib']:,} MiB | {row['images_per_second']:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
