from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import generator
from generator.cli import main
from generator.cli.commands import ProgressBar
from generator.io import load_model
from generator.settings import PRESETS
from generator.training import PHASES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def conditional_model(workdir: Path) -> Path:
    path = workdir / "preview.npz"
    argv = ["train", "--preset", "preview", "--quiet", "--data-dir", str(workdir)]
    assert main([*argv, "--out", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def plain_model(workdir: Path) -> Path:
    path = workdir / "plain.npz"
    argv = ["train", "--preset", "preview", "--no-class-conditional", "--quiet"]
    argv += ["--bandwidth", "0.5", "--data-dir", str(workdir), "--out", str(path)]
    assert main(argv) == 0
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code: int, err: str) -> None:
    assert code != 0
    assert err.endswith("\n")
    assert err.strip()
    assert "\n" not in err.strip(), err
    assert "Traceback" not in err
    assert "error" in err


def test_end_to_end_through_python_dash_m(tmp_path: Path) -> None:
    environment = {**os.environ, "DATA_DIR": str(tmp_path)}

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "generator", *arguments],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    trained = run("train", "--preset", "preview", "--out", "model.npz")
    assert trained.returncode == 0, trained.stderr
    # Not a terminal: one progress line per phase, in order.
    lines = trained.stderr.splitlines()
    assert [line.split(" ")[1] for line in lines] == list(PHASES)
    assert all(line.startswith("training: ") for line in lines)
    sampled = run("sample", "model.npz", "-n", "12", "--seed", "4", "--out", "s.npz")
    assert sampled.returncode == 0, sampled.stderr
    with np.load(tmp_path / "s.npz", allow_pickle=False) as archive:
        assert archive.files == ["images"]
        images = archive["images"]
    assert images.dtype == np.uint8
    assert images.shape == (12, 8, 8)
    grid = run("sample", "model.npz", "-n", "9", "--out", "grid.png", "--scale", "2")
    assert grid.returncode == 0, grid.stderr
    with Image.open(tmp_path / "grid.png") as picture:
        assert picture.mode == "L"
        assert picture.size == (3 * 16 + 2 * 2, 3 * 16 + 2 * 2)
    evaluated = run("evaluate", "model.npz", "-n", "200")
    assert evaluated.returncode == 0, evaluated.stderr
    report = json.loads(evaluated.stdout)
    assert report["n_images"] == 200
    assert report["dataset"] == "digits"
    assert 0.0 <= report["mean_confidence"] <= 1.0
    # The classifier was cached under DATA_DIR.
    assert list(tmp_path.glob("classifier-digits-*.npz"))


def test_error_through_python_dash_m_is_one_line(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "generator", "sample", "nope.npz", "--out", "x.npz"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    _assert_one_line_error(completed.returncode, completed.stderr)
    assert "nope.npz" in completed.stderr


def test_train_records_settings_dataset_and_metrics(conditional_model: Path) -> None:
    model, metadata = load_model(conditional_model)
    assert metadata["settings"] == PRESETS["preview"].to_dict()
    assert metadata["dataset"]["name"] == "digits"
    assert len(metadata["dataset"]["digest"]) == 64
    assert metadata["metrics"]["bandwidth"] == pytest.approx(model.bandwidth_)
    assert metadata["code_version"] == generator.__version__
    assert "job" not in metadata
    assert "numpy" in metadata["library_versions"]
    assert model.class_conditional


def test_every_setting_flag_reaches_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flags.npz"
    argv = ["train", "--dataset", "digits", "--components", "0.8", "--whiten"]
    argv += ["--kernel", "epanechnikov", "--bandwidth", "cv", "--grid", "0.5", "4", "4"]
    argv += ["--folds", "3", "--n-train", "600", "--class-conditional"]
    argv += ["--pca-scope", "per-class", "--temperature", "1.25"]
    argv += ["--match-intensities", "--seed", "7", "--quiet", "--out", str(out)]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0
    assert f"wrote {out}" in stdout
    model, metadata = load_model(out)
    counts = [row["n_components"] for row in metadata["metrics"]["per_class"]]
    assert f"one PCA per digit: {min(counts)} to {max(counts)} components" in stdout
    assert metadata["settings"] == {
        "dataset": "digits",
        "n_components": 0.8,
        "whiten": True,
        "kernel": "epanechnikov",
        "bandwidth": "cv",
        "bandwidth_grid": {"start": 0.5, "stop": 4.0, "num": 4},
        "cv_folds": 3,
        "n_train": 600,
        "class_conditional": True,
        "pca_scope": "per_class",
        "temperature": 1.25,
        "match_intensities": True,
        "seed": 7,
    }
    assert metadata["metrics"]["n_train"] == 600
    per_class = metadata["metrics"]["per_class"]
    assert [row["class"] for row in per_class] == list(range(10))
    assert sum(row["n_train"] for row in per_class) == 600
    assert model.kernel == "epanechnikov"
    assert model.whiten is True
    assert model.pca_scope == "per_class"
    assert len(model.pcas_) == 10
    assert model.temperature == 1.25
    assert model.intensity_curve_ is not None


def test_flags_override_only_what_they_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "override.npz"
    argv = ["train", "--preset", "preview", "--bandwidth", "scott", "--quiet"]
    code, _, _ = _run([*argv, "--out", str(out)], capsys)
    assert code == 0
    _, metadata = load_model(out)
    expected = PRESETS["preview"].to_dict() | {"bandwidth": "scott"}
    assert metadata["settings"] == expected


def test_sample_npz_is_deterministic_uint8(
    conditional_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def sample(name: str, *extra: str) -> np.ndarray:
        path = tmp_path / name
        code, _, err = _run(
            ["sample", str(conditional_model), "--out", str(path), *extra], capsys
        )
        assert code == 0, err
        with np.load(path, allow_pickle=False) as archive:
            images: np.ndarray = archive["images"]
        return images

    first = sample("a.npz", "-n", "50", "--seed", "3")
    again = sample("b.npz", "-n", "50", "--seed", "3")
    other = sample("c.npz", "-n", "50", "--seed", "4")
    assert first.dtype == np.uint8
    assert first.shape == (50, 8, 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_sample_output_mode_follows_the_umask(
    conditional_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = os.umask(0o027)
    try:
        for name in ("s.npz", "g.png"):
            out = tmp_path / name
            code, _, _ = _run(
                ["sample", str(conditional_model), "--out", str(out)], capsys
            )
            assert code == 0
            assert stat.S_IMODE(out.stat().st_mode) == 0o640
    finally:
        os.umask(previous)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["g.png", "s.npz"]


def test_sample_digit_and_temperature_reach_the_model(
    conditional_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sevens.npz"
    argv = ["sample", str(conditional_model), "-n", "20", "--seed", "1"]
    argv += ["--digit", "7", "--temperature", "0.5", "--out", str(out)]
    code, _, _ = _run(argv, capsys)
    assert code == 0
    model, _ = load_model(conditional_model)
    expected = model.sample(20, digit=7, random_state=1, temperature=0.5)
    with np.load(out, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["images"], expected)


def test_sample_png_grid_decodes(
    conditional_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    argv = ["sample", str(conditional_model), "-n", "10", "--columns", "5"]
    code, _, _ = _run([*argv, "--scale", "3", "--out", str(out)], capsys)
    assert code == 0
    with Image.open(out) as picture:
        picture.load()
        assert picture.format == "PNG"
        assert picture.size == (5 * 24 + 4 * 2, 2 * 24 + 2)


def test_evaluate_prints_metrics_as_json(
    conditional_model: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(conditional_model), "-n", "300", "--seed", "2"]
    code, stdout, _ = _run([*argv, "--data-dir", str(workdir)], capsys)
    assert code == 0
    report = json.loads(stdout)
    for key in (
        "mean_confidence",
        "confident_fraction",
        "class_entropy",
        "class_histogram",
        "novelty",
        "novelty_real_test",
        "classifier_test_accuracy",
    ):
        assert key in report
    assert sum(report["class_histogram"]) == 300
    assert report["seed"] == 2
    # Class-conditional: the per-digit match is reported.
    assert set(report["digit_match_by_digit"]) == {str(d) for d in range(10)}
    assert 0.5 < report["digit_match_fraction"] <= 1.0


def test_evaluate_of_plain_model_has_no_digit_match(
    plain_model: Path, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(plain_model), "-n", "100", "--data-dir", str(workdir)]
    code, stdout, _ = _run(argv, capsys)
    assert code == 0
    assert "digit_match_fraction" not in json.loads(stdout)


def test_fetch_digits_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = _run(["fetch", "digits"], capsys)
    assert code == 0
    assert stdout.startswith("digits: 1438 train and 359 test images of 8x8")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_redraws_one_line_on_a_terminal() -> None:
    stream = _Terminal()
    bar = ProgressBar(stream, width=10)
    bar("loading", 0.0)
    bar("search", 0.5)
    bar("evaluating", 1.0)
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3
    assert text.endswith("\n")
    assert "[#####-----]  50% search" in text
    assert "[##########] 100% evaluating" in text


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["train", "--preset", "bogus"], id="unknown-preset"),
        pytest.param(["train", "--preset", "preview", "--components", "0"], id="k0"),
        pytest.param(["train", "--preset", "preview", "--components", "1.5"], id="k"),
        pytest.param(["train", "--components", "abc"], id="k-text"),
        pytest.param(["train", "--preset", "preview", "--folds", "1"], id="folds"),
        pytest.param(["train", "--folds", "2.5"], id="folds-fraction"),
        pytest.param(["train", "--bandwidth", "-1"], id="bandwidth"),
        pytest.param(["train", "--bandwidth", "wide"], id="bandwidth-text"),
        pytest.param(["train", "--grid", "1", "0.1", "5"], id="grid-order"),
        pytest.param(["train", "--grid", "0.1", "1", "99"], id="grid-num"),
        pytest.param(["train", "--kernel", "box"], id="kernel"),
        pytest.param(["train", "--dataset", "cifar"], id="dataset"),
        pytest.param(["train", "--preset", "preview", "--n-train", "99999"], id="n"),
        pytest.param(["train", "--seed", "-3"], id="seed"),
        pytest.param(["train", "--unknown-flag"], id="unknown-flag"),
        pytest.param(["frobnicate"], id="unknown-command"),
        pytest.param([], id="no-command"),
        pytest.param(["fetch", "cifar"], id="fetch-unknown"),
    ],
)
def test_bad_training_arguments_fail_in_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.npz"
    if argv and argv[0] == "train":
        argv = [*argv, "--out", str(out)]
    code, _, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert not out.exists()


def test_a_bandwidth_at_the_grid_edge_suggests_a_wider_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "preview", "--grid", "2", "10", "3", "--quiet"]
    code, out, err = _run([*argv, "--out", str(tmp_path / "m.npz")], capsys)
    assert code == 0, err
    note = out.splitlines()[-1]
    assert note == (
        "note: bandwidth 2 is the smallest value of the search grid, so the best "
        "one may be smaller; search a wider grid with --grid 0.2 10 6"
    )
    # Following the suggestion twice brings the chosen bandwidth inside the grid.
    for name in ("w1.npz", "w2.npz"):
        wider = out.splitlines()[-1].split("--grid ")[1].split()
        argv = [*argv[:3], "--grid", *wider, "--quiet"]
        code, out, err = _run([*argv, "--out", str(tmp_path / name)], capsys)
        assert code == 0, err
    assert "note:" not in out


def test_an_infinite_test_log_likelihood_is_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "preview", "--kernel", "tophat", "--bandwidth", "0.5"]
    code, out, err = _run([*argv, "--quiet", "--out", str(tmp_path / "m.npz")], capsys)
    assert code == 0, err
    assert re.search(
        r"test log-likelihood -inf: \d+ of 359 test images lie outside every "
        r"kernel's support",
        out,
    )


def test_a_dataset_smaller_than_the_presets_training_size_trains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The notebook preset's 10,000 training images, on a data set of 1,438.
    argv = ["train", "--dataset", "digits", "--components", "16", "--bandwidth"]
    code, _, err = _run(
        [*argv, "0.5", "--quiet", "--out", str(tmp_path / "m.npz")], capsys
    )
    assert code == 0, err
    _, metadata = load_model(tmp_path / "m.npz")
    assert metadata["settings"]["n_train"] == 1438


def test_setting_errors_name_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "preview", "--folds", "11"]
    code, _, err = _run([*argv, "--out", str(tmp_path / "m.npz")], capsys)
    _assert_one_line_error(code, err)
    assert "--folds: cv_folds must be an integer from 2 to 10" in err


def test_every_bad_setting_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--preset", "preview", "--folds", "11", "--seed", "-1"]
    code, _, err = _run([*argv, "--kernel", "box", "--out", str(tmp_path)], capsys)
    _assert_one_line_error(code, err)
    assert "--kernel: kernel must be one of" in err
    assert "--folds: cv_folds must be an integer from 2 to 10" in err
    assert "--seed: seed must be an integer from 0 to 4294967295" in err


def test_unwritable_training_output_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained although the output cannot be written")

    monkeypatch.setattr("generator.training.train_model", never)
    for out in (tmp_path / "missing" / "m.npz", tmp_path):
        code, _, err = _run(["train", "--preset", "preview", "--out", str(out)], capsys)
        _assert_one_line_error(code, err)
        assert "cannot write" in err


def _bad_model_files(tmp_path: Path, good: Path) -> dict[str, Path]:
    files = {
        "missing": tmp_path / "missing.npz",
        "directory": tmp_path,
        "empty": tmp_path / "empty.npz",
        "text": tmp_path / "text.npz",
        "truncated": tmp_path / "truncated.npz",
        "pickle": tmp_path / "pickle.npz",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("not a model\n")
    files["truncated"].write_bytes(good.read_bytes()[:2000])
    # A pickle protocol header: must be refused without unpickling.
    files["pickle"].write_bytes(b"\x80\x04\x95" + b"\x00" * 40)
    return files


@pytest.mark.parametrize(
    "case", ["missing", "directory", "empty", "text", "truncated", "pickle"]
)
@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_bad_model_files_fail_in_one_line(
    case: str,
    command: str,
    conditional_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model_path = _bad_model_files(tmp_path, conditional_model)[case]
    argv = [command, str(model_path)]
    if command == "sample":
        argv += ["--out", str(tmp_path / "out.npz")]
    code, stdout, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert stdout == ""
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--digit", "11"], "--digit must be one of"),
        (["--out-of-range"], "unrecognized arguments"),
        (["-n", "0"], "expected an integer >= 1"),
        (["-n", "many"], "expected an integer"),
        (["--temperature", "0"], "positive number"),
        (["--temperature", "nan"], "positive number"),
        (["--scale", "0"], "expected an integer >= 1"),
        (["--seed", "-1"], "expected an integer >= 0"),
    ],
)
def test_bad_sampling_arguments_fail_in_one_line(
    extra: list[str],
    message: str,
    conditional_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out.npz"
    argv = ["sample", str(conditional_model), *extra, "--out", str(out)]
    code, _, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert message in err
    assert not out.exists()


def test_digit_on_a_plain_model_fails_in_one_line(
    plain_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.npz"
    argv = ["sample", str(plain_model), "--digit", "3", "--out", str(out)]
    code, _, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert "class-conditional" in err
    assert not out.exists()


@pytest.mark.parametrize("name", ["missing/out.npz", "out.txt", "."])
def test_unwritable_sample_output_fails_in_one_line(
    name: str,
    conditional_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / name
    argv = ["sample", str(conditional_model), "--out", str(out)]
    code, _, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert "cannot write" in err
    assert not list(tmp_path.glob("*.tmp"))


def test_unexpected_failure_is_still_one_line(
    conditional_model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr("generator.io.load_model", explode)
    argv = ["sample", str(conditional_model), "--out", str(tmp_path / "out.npz")]
    code, _, err = _run(argv, capsys)
    _assert_one_line_error(code, err)
    assert "first line second line" in err


def test_repository_root_is_importable() -> None:
    # `python -m generator` from the checkout must find this package.
    assert (REPO / "generator" / "__main__.py").is_file()
