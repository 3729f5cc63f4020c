"""Search for the ``sharp`` preset: the sharpest balanced model that does not copy.

Every configuration is trained on MNIST with ``train_model`` (n_train 10,000) and
scored by ``evaluate_model`` on ``--n-samples`` images with the cached digit
classifier. The rule (issue 2, "Presets"):

- eligible: ``novelty`` (median distance from a sample to its nearest training
  image) at or above ``novelty_real_test`` (the same for real test images), so a
  model that copies its training set cannot win;
- among the eligible, the highest ``score = mean_confidence * class_entropy /
  log2(10)``: classifier confidence, discounted by class imbalance.

Stages, to keep the run time reasonable (about 20 minutes on 2 cores):

1. components {10, 20, 30, 50, 80} x whiten {no, yes} x kernel (all six) x
   class-conditional {no, yes}, bandwidth chosen by 5-fold CV over 41 values
   log-spaced from 0.01 to 100. The notebook's grid (0.1 to 10) is too narrow
   here: the exponential kernel's optimum lies below 0.1 (its spread is about
   sqrt(d + 1) times a gaussian's of the same bandwidth) and compact kernels in
   50+ dimensions need more than 10 to cover the nearest neighbours;
2. the best eligible configurations of stage 1 again with fixed bandwidths at
   0.7, 0.85 and 1.2 times their CV bandwidth (smaller is sharper but closer to
   the training images);
3. the best eligible rows of stages 1-2, evaluated again on ``--confirm-samples``
   images with another sampling seed, because the winner tends to sit right at
   the novelty bound, where 1,000 samples are noisy. The chosen configuration is
   the best one that is still eligible there.

It prints a markdown table of all rows (best first), the confirmation table and
the chosen settings.

Usage::

    .venv/bin/python bench/sharp_search.py [--n-samples 1000] [--quick] [--json F]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.classifier import load_classifier
from generator.datasets import load_dataset
from generator.evaluate import evaluate_model
from generator.kernel_sums import KERNELS
from generator.settings import TrainingSettings, validate_settings
from generator.training import train_model

COMPONENTS = (10, 20, 30, 50, 80)
SEARCH_GRID = (0.01, 100.0, 41)
BANDWIDTH_FACTORS = (0.7, 0.85, 1.2)
STAGE_TWO_CONFIGURATIONS = 6
STAGE_THREE_CONFIGURATIONS = 8
CONFIRMATION_SEED = 1


@dataclass
class Row:
    settings: TrainingSettings
    stage: int
    bandwidth: float
    metrics: dict[str, Any]
    train_seconds: float
    eligible: bool = False
    score: float = 0.0
    model: Any = field(default=None, repr=False)


def score_of(metrics: dict[str, Any]) -> float:
    balance = metrics["class_entropy"] / metrics["max_class_entropy"]
    return float(metrics["mean_confidence"] * balance)


def run_one(
    settings: TrainingSettings,
    stage: int,
    *,
    dataset: Any,
    classifier: Any,
    n_samples: int,
    data_dir: Path | None,
) -> Row:
    started = time.perf_counter()
    result = train_model(settings, data_dir=data_dir)
    train_seconds = time.perf_counter() - started
    metrics = evaluate_model(
        result.model,
        dataset,
        n_samples=n_samples,
        random_state=settings.seed,
        classifier=classifier,
    )
    row = Row(
        settings=settings,
        stage=stage,
        bandwidth=float(result.metrics["bandwidth"]),
        metrics=metrics,
        train_seconds=train_seconds,
    )
    row.eligible = metrics["novelty"] >= metrics["novelty_real_test"]
    row.score = score_of(metrics)
    row.model = result.model
    return row


def confirm(
    row: Row, *, dataset: Any, classifier: Any, n_samples: int, seed: int
) -> Row:
    metrics = evaluate_model(
        row.model,
        dataset,
        n_samples=n_samples,
        random_state=seed,
        classifier=classifier,
    )
    return Row(
        settings=row.settings,
        stage=3,
        bandwidth=row.bandwidth,
        metrics=metrics,
        train_seconds=row.train_seconds,
        eligible=metrics["novelty"] >= metrics["novelty_real_test"],
        score=score_of(metrics),
    )


def describe(row: Row) -> str:
    s = row.settings
    bandwidth = (
        f"cv→{row.bandwidth:.3g}" if s.bandwidth == "cv" else f"{row.bandwidth:.3g}"
    )
    m = row.metrics
    match = m.get("digit_match_fraction")
    return (
        f"| {s.n_components} | {'yes' if s.whiten else 'no'} | {s.kernel} "
        f"| {bandwidth} | {'yes' if s.class_conditional else 'no'} "
        f"| {m['mean_confidence']:.3f} | {m['confident_fraction']:.3f} "
        f"| {m['class_entropy']:.3f} | {row.score:.3f} | {m['novelty']:.2f} "
        f"| {'yes' if row.eligible else 'no'} "
        f"| {'' if match is None else f'{match:.3f}'} | {row.train_seconds:.1f} |"
    )


HEADER = (
    "| components | whiten | kernel | bandwidth | class-cond. | mean conf. "
    "| conf. > 0.9 | entropy (bits) | score | novelty | eligible | digit match "
    "| train s |\n"
    "|---:|:---:|:---|---:|:---:|---:|---:|---:|---:|---:|:---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--confirm-samples", type=int, default=5000)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="stage 1 on gaussian and epanechnikov kernels only",
    )
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--json", type=Path, help="also write every row as JSON")
    arguments = parser.parse_args(argv)

    started = time.perf_counter()
    dataset = load_dataset("mnist", data_dir=arguments.data_dir)
    classifier = load_classifier(dataset, data_dir=arguments.data_dir)
    print(
        f"classifier test accuracy {classifier.test_accuracy_:.4f}; novelty of real "
        f"test images {classifier.test_novelty_:.3f}; {arguments.n_samples} "
        "samples per configuration",
        file=sys.stderr,
    )
    common = {
        "dataset": "mnist",
        "n_train": 10000,
        "cv_folds": 5,
        "bandwidth_grid": SEARCH_GRID,
        "seed": 0,
    }
    kernels = ("gaussian", "epanechnikov") if arguments.quick else KERNELS
    rows: list[Row] = []

    def run(settings: TrainingSettings, stage: int) -> None:
        try:
            row = run_one(
                settings,
                stage,
                dataset=dataset,
                classifier=classifier,
                n_samples=arguments.n_samples,
                data_dir=arguments.data_dir,
            )
        except Exception as error:  # a failed configuration is a finding, not a stop
            print(f"FAILED {settings}: {error}", file=sys.stderr)
            return
        rows.append(row)
        print(f"[{len(rows):3d}] {describe(row)}", file=sys.stderr, flush=True)

    for components, whiten, kernel, conditional in itertools.product(
        COMPONENTS, (False, True), kernels, (False, True)
    ):
        run(
            validate_settings(
                {
                    **common,
                    "n_components": components,
                    "whiten": whiten,
                    "kernel": kernel,
                    "bandwidth": "cv",
                    "class_conditional": conditional,
                }
            ),
            stage=1,
        )

    finalists = sorted(
        (row for row in rows if row.eligible), key=lambda row: -row.score
    )[:STAGE_TWO_CONFIGURATIONS]
    for finalist, factor in itertools.product(finalists, BANDWIDTH_FACTORS):
        run(
            validate_settings(
                {
                    **finalist.settings.to_dict(),
                    "bandwidth": round(finalist.bandwidth * factor, 4),
                }
            ),
            stage=2,
        )

    rows.sort(key=lambda row: (not row.eligible, -row.score))
    confirmed = [
        confirm(
            row,
            dataset=dataset,
            classifier=classifier,
            n_samples=arguments.confirm_samples,
            seed=CONFIRMATION_SEED,
        )
        for row in rows[:STAGE_THREE_CONFIGURATIONS]
        if row.eligible
    ]
    confirmed.sort(key=lambda row: (not row.eligible, -row.score))
    for row in confirmed:
        print(f"[confirm] {describe(row)}", file=sys.stderr, flush=True)
    novelty_real = classifier.test_novelty_
    print(
        f"\nnovelty of real test images: {novelty_real:.3f}; classifier test "
        f"accuracy {classifier.test_accuracy_:.4f}; {arguments.n_samples} samples "
        f"per row; max entropy {math.log2(10):.3f} bits; "
        f"{len(rows)} configurations in {time.perf_counter() - started:.0f} s\n"
    )
    print(HEADER)
    for row in rows:
        print(describe(row))
    print(
        f"\nconfirmation: the best eligible rows again, {arguments.confirm_samples} "
        f"samples, sampling seed {CONFIRMATION_SEED}\n"
    )
    print(HEADER)
    for row in confirmed:
        print(describe(row))
    eligible = [row for row in confirmed if row.eligible]
    if eligible:
        best = eligible[0]
        print(f"\nchosen: {json.dumps(best.settings.to_dict())}")
    else:
        print("\nno configuration stayed at the novelty of real test images")
    if arguments.json is not None:
        arguments.json.write_text(
            json.dumps(
                [
                    {
                        "settings": row.settings.to_dict(),
                        "stage": row.stage,
                        "bandwidth": row.bandwidth,
                        "eligible": row.eligible,
                        "score": row.score,
                        "train_seconds": row.train_seconds,
                        "metrics": row.metrics,
                    }
                    for row in [*rows, *confirmed]
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
