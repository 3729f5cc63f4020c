from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from generator.datasets import load_dataset
from generator.files import file_sha256
from generator.io import FORMAT_VERSION, ModelFileError, load_model, save_model
from generator.model import ImageGenerator
from generator.settings import PRESETS

SHAPE = (8, 8)
METADATA = {
    "settings": PRESETS["preview"].to_dict(),
    "dataset": {"name": "digits", "digest": "0" * 64},
    "metrics": {"bandwidth": 0.2, "cv": None},
}
# pickle.dumps({"a": 1}, protocol=4), spelled out so that no test imports pickle.
PICKLE_BYTES = b"\x80\x04\x95\n\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s."


@pytest.fixture(scope="module")
def features() -> tuple[np.ndarray, np.ndarray]:
    digits = load_dataset("digits")
    return digits.features("train")[:600], digits.labels_train[:600]


@pytest.fixture(scope="module")
def conditional(features: tuple[np.ndarray, np.ndarray]) -> ImageGenerator:
    X, y = features
    model = ImageGenerator(
        n_components=12,
        whiten=True,
        bandwidth_grid=(0.3, 3.0, 4),
        cv_folds=3,
        class_conditional=True,
        random_state=0,
    )
    return model.fit(X, y, image_shape=SHAPE)


@pytest.fixture(scope="module")
def unconditional(features: tuple[np.ndarray, np.ndarray]) -> ImageGenerator:
    model = ImageGenerator(n_components=0.8, kernel="epanechnikov", bandwidth="scott")
    return model.fit(features[0], image_shape=SHAPE)


@pytest.fixture(scope="module")
def model_bytes(conditional: ImageGenerator) -> bytes:
    buffer = io.BytesIO()
    save_model(conditional, buffer, metadata=METADATA)
    return buffer.getvalue()


def entries(content: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def rewrite(content: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    arrays: dict[str, Any] = entries(content)
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def metadata_array(document: dict[str, Any]) -> np.ndarray:
    return np.frombuffer(json.dumps(document).encode(), dtype=np.uint8)


def edit_metadata(content: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    def apply(arrays: dict[str, Any]) -> None:
        document = json.loads(arrays["metadata"].tobytes())
        change(document)
        arrays["metadata"] = metadata_array(document)

    return rewrite(content, apply)


@pytest.mark.parametrize("which", ["conditional", "unconditional"])
def test_round_trip_samples_identically(
    request: pytest.FixtureRequest,
    which: str,
    features: tuple[np.ndarray, np.ndarray],
) -> None:
    model: ImageGenerator = request.getfixturevalue(which)
    buffer = io.BytesIO()
    save_model(model, buffer, metadata=METADATA)
    loaded, metadata = load_model(buffer.getvalue())

    assert np.array_equal(
        loaded.sample(100, random_state=7), model.sample(100, random_state=7)
    )
    if model.classes_ is not None:
        assert np.array_equal(
            loaded.sample(30, digit=3, random_state=1),
            model.sample(30, digit=3, random_state=1),
        )
    queries = features[0][:50]
    assert np.array_equal(loaded.score_samples(queries), model.score_samples(queries))
    for name in ("components_", "mean_", "explained_variance_ratio_", "n_components_"):
        assert np.array_equal(getattr(loaded.pca_, name), getattr(model.pca_, name))
    assert loaded.bandwidth_ == model.bandwidth_
    for name in ("n_components", "whiten", "kernel", "bandwidth", "class_conditional"):
        assert getattr(loaded, name) == getattr(model, name)
    for key, value in METADATA.items():
        assert metadata[key] == value
    # Shared-scope files keep version 1's layout and number.
    assert metadata["format_version"] == 1 < FORMAT_VERSION
    assert set(metadata["library_versions"]) == {
        "numpy",
        "scipy",
        "scikit-learn",
        "generator",
    }


def test_search_results_survive_the_round_trip(
    conditional: ImageGenerator, model_bytes: bytes
) -> None:
    loaded, _ = load_model(model_bytes)
    assert conditional.cv_result_ is not None
    assert loaded.cv_result_ is not None
    assert np.array_equal(
        loaded.cv_result_.bandwidths, conditional.cv_result_.bandwidths
    )
    assert np.array_equal(
        loaded.cv_result_.mean_log_likelihood,
        conditional.cv_result_.mean_log_likelihood,
    )
    assert loaded.cv_result_.best_bandwidth == conditional.cv_result_.best_bandwidth
    # The search left the widest bandwidth out, and the file says so.
    assert conditional.cv_result_.exact is not None
    assert loaded.cv_result_.exact is not None
    assert loaded.cv_result_.exact.tolist() == [True, True, True, False]
    assert loaded.classes_ is not None
    assert loaded.classes_.tolist() == list(range(10))


def test_saving_to_a_path_is_atomic_and_hashable(
    conditional: ImageGenerator, tmp_path: Path, model_bytes: bytes
) -> None:
    path = tmp_path / "model"
    save_model(conditional, path, metadata=METADATA)
    assert [entry.name for entry in tmp_path.iterdir()] == ["model"]
    content = path.read_bytes()
    expected = hashlib.sha256(content).hexdigest()
    assert file_sha256(path) == expected
    assert file_sha256(str(path)) == expected
    assert file_sha256(content) == expected
    with path.open("rb") as stream:
        assert file_sha256(stream) == expected
        stream.seek(0)
        loaded, _ = load_model(stream)
    assert np.array_equal(
        loaded.sample(5, random_state=0), conditional.sample(5, random_state=0)
    )
    assert content == model_bytes


def test_a_failed_save_leaves_no_file(
    conditional: ImageGenerator, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="JSON"):
        save_model(conditional, tmp_path / "m.npz", metadata={"bad": {1, 2}})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "metadata",
    [{"format_version": 2}, {"model": {}}, {"x": float("nan")}, {"x": object()}],
    ids=str,
)
def test_reserved_or_unserialisable_metadata_is_refused(
    conditional: ImageGenerator, metadata: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"reserved|JSON"):
        save_model(conditional, io.BytesIO(), metadata=metadata)


def test_unfitted_model_cannot_be_saved() -> None:
    with pytest.raises(ValueError, match="not fitted"):
        save_model(ImageGenerator(), io.BytesIO(), metadata={})


def test_pickle_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(PICKLE_BYTES)
    with pytest.raises(ModelFileError, match="pickle"):
        load_model(path)


def test_object_array_is_refused(model_bytes: bytes) -> None:
    def add_object(arrays: dict[str, Any]) -> None:
        arrays["classes"] = np.array([{"payload": 1}] * 10, dtype=object)

    content = rewrite(model_bytes, add_object)
    with pytest.raises(ModelFileError, match="object array"):
        load_model(content)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.999])
def test_truncated_file_is_refused(model_bytes: bytes, keep: float) -> None:
    with pytest.raises(ModelFileError):
        load_model(model_bytes[: int(len(model_bytes) * keep)])


def test_flipped_byte_is_refused(model_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
        info = archive.getinfo("kde_points.npy")
    # Past the local header and the .npy header: inside the array data.
    position = info.header_offset + 30 + len(info.filename) + 200
    tampered = bytearray(model_bytes)
    tampered[position] ^= 0xFF
    with pytest.raises(ModelFileError):
        load_model(bytes(tampered))


def drop(name: str) -> Callable[[dict[str, Any]], None]:
    return lambda arrays: arrays.pop(name)


def replace(name: str, make: Callable[[Any], Any]) -> Callable[[dict[str, Any]], None]:
    def change(arrays: dict[str, Any]) -> None:
        arrays[name] = make(arrays[name])

    return change


TAMPERED = {
    "missing entry": (drop("kde_counts"), "missing"),
    "missing metadata": (drop("metadata"), "metadata"),
    "missing half of the search": (drop("cv_bandwidths"), "cv_"),
    "computed bandwidths of no search": (
        lambda arrays: [
            arrays.pop(name) for name in ("cv_bandwidths", "cv_fold_log_likelihood")
        ],
        "cv_exact",
    ),
    "computed bandwidths of another grid": (
        replace("cv_exact", lambda a: a[:-1]),
        "cv_exact",
    ),
    "computed bandwidths as numbers": (
        replace("cv_exact", lambda a: a.astype(np.float64)),
        "dtype",
    ),
    "unexpected entry": (
        lambda arrays: arrays.update(extra=np.zeros(3)),
        "unexpected",
    ),
    "shortened mean": (replace("pca_mean", lambda a: a[:-1]), "shape"),
    "extra component": (
        replace("pca_components", lambda a: np.vstack([a, a[:1]])),
        "shape",
    ),
    "points in the wrong dimension": (
        replace("kde_points", lambda a: a[:, :-1]),
        "shape",
    ),
    "counts not matching points": (
        replace("kde_counts", lambda a: a + 1),
        "kde_counts",
    ),
    "float counts": (
        replace("kde_counts", lambda a: a.astype(np.float64)),
        "dtype",
    ),
    "float32 points": (
        replace("kde_points", lambda a: a.astype(np.float32)),
        "dtype",
    ),
    "negative bandwidth": (replace("kde_bandwidths", lambda a: -a), "bandwidths"),
    "nan points": (
        replace("kde_points", lambda a: np.where(a > 0, np.nan, a)),
        "non-finite",
    ),
    "priors not summing to one": (
        replace("class_priors", lambda a: a * 2),
        "class_priors",
    ),
    "unsorted classes": (replace("classes", lambda a: a[::-1].copy()), "classes"),
    "2-D metadata": (replace("metadata", lambda a: a.reshape(1, -1)), "metadata"),
    "metadata not JSON": (
        replace("metadata", lambda a: np.frombuffer(b"{not json", np.uint8)),
        "JSON",
    ),
}


@pytest.mark.parametrize(("change", "message"), TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_arrays_are_refused(
    model_bytes: bytes, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ModelFileError, match=message):
        load_model(rewrite(model_bytes, change))


def test_newer_format_version_is_refused(model_bytes: bytes) -> None:
    def newer(document: dict[str, Any]) -> None:
        document["format_version"] = FORMAT_VERSION + 1

    with pytest.raises(
        ModelFileError,
        match=rf"model file format version {FORMAT_VERSION + 1} is newer than this "
        rf"software supports \({FORMAT_VERSION}\)",
    ):
        load_model(edit_metadata(model_bytes, newer))


BAD_METADATA = {
    "no version": lambda d: d.pop("format_version"),
    "string version": lambda d: d.update(format_version="1"),
    "no model": lambda d: d.pop("model"),
    "unknown kernel": lambda d: d["model"].update(kernel="box"),
    "missing image shape": lambda d: d["model"].pop("image_shape"),
    "wrong image shape": lambda d: d["model"].update(image_shape=[4, 4]),
    "conditional flag off": lambda d: d["model"].update(class_conditional=False),
    "string whiten": lambda d: d["model"].update(whiten="yes"),
    "zero bandwidth": lambda d: d["model"].update(bandwidth_=0),
    "other bandwidth": lambda d: d["model"].update(
        bandwidth_=d["model"]["bandwidth_"] * 2
    ),
    "other component count": lambda d: d["model"].update(n_components=11),
    "fraction of components": lambda d: d["model"].update(n_components=1.5),
    "not an object": lambda d: d.clear(),
}


@pytest.mark.parametrize("change", BAD_METADATA.values(), ids=BAD_METADATA.keys())
def test_invalid_metadata_is_refused(
    model_bytes: bytes, change: Callable[[dict[str, Any]], None]
) -> None:
    with pytest.raises(ModelFileError):
        load_model(edit_metadata(model_bytes, change))


def test_metadata_that_is_not_an_object_is_refused(model_bytes: bytes) -> None:
    def as_list(arrays: dict[str, Any]) -> None:
        arrays["metadata"] = np.frombuffer(b"[1, 2]", dtype=np.uint8)

    with pytest.raises(ModelFileError, match="JSON object"):
        load_model(rewrite(model_bytes, as_list))


@pytest.mark.parametrize(
    "content", [b"", b"hello world", b"PK\x03\x04garbage"], ids=repr
)
def test_foreign_bytes_are_refused(content: bytes) -> None:
    with pytest.raises(ModelFileError):
        load_model(content)


def test_missing_file_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "absent.npz")


def test_npy_header_declaring_a_huge_array_is_refused(model_bytes: bytes) -> None:
    source = zipfile.ZipFile(io.BytesIO(model_bytes))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "pca_mean.npy":
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    header,
                    {"descr": "<f8", "fortran_order": False, "shape": (10**12,)},
                )
                data = header.getvalue() + data[len(header.getvalue()) :]
            target.writestr(info.filename, data)
    with pytest.raises(ModelFileError, match="damaged"):
        load_model(output.getvalue())


def bomb(model_bytes: bytes, name: str, declared_bytes: int) -> bytes:
    """The model with ``name`` replaced by ``declared_bytes`` of deflated zeros."""
    source = zipfile.ZipFile(io.BytesIO(model_bytes))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != f"{name}.npy":
                target.writestr(info.filename, source.read(info.filename))
                continue
            columns = 50
            with target.open(info.filename, "w") as member:
                np.lib.format.write_array_header_1_0(
                    member,
                    {
                        "descr": "<f8",
                        "fortran_order": False,
                        "shape": (declared_bytes // (8 * columns), columns),
                    },
                )
                zeros = bytes(1 << 20)
                for _ in range(declared_bytes // len(zeros)):
                    member.write(zeros)
    return output.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_decompressed(model_bytes: bytes) -> None:
    import tracemalloc

    from generator.io import MAX_ARRAY_BYTES

    declared = MAX_ARRAY_BYTES + (8 << 20)
    content = bomb(model_bytes, "kde_points", declared)
    assert len(content) < declared // 500  # a real bomb: deflate shrinks it ~1000x
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="would decompress to"):
            load_model(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_the_array_bound_is_a_parameter(model_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(model_bytes)) as archive:
        points = archive.getinfo("kde_points.npy").file_size
    load_model(model_bytes, max_array_bytes=points)
    with pytest.raises(ModelFileError, match="kde_points"):
        load_model(model_bytes, max_array_bytes=points // 2)


def test_a_compressed_model_file_still_loads(
    model_bytes: bytes, conditional: ImageGenerator
) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **entries(model_bytes))
    model, _ = load_model(buffer.getvalue())
    np.testing.assert_array_equal(
        model.sample(4, random_state=0), conditional.sample(4, random_state=0)
    )


def with_extra_member(model_bytes: bytes, filename: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(model_bytes))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info.filename))
        target.writestr(filename, source.read("metadata.npy"))
    return output.getvalue()


def test_an_entry_that_is_not_an_array_is_refused(model_bytes: bytes) -> None:
    with pytest.raises(ModelFileError, match=r"unexpected entry 'notes\.txt'"):
        load_model(with_extra_member(model_bytes, "notes.txt"))


def test_a_duplicated_entry_is_refused(model_bytes: bytes) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        content = with_extra_member(model_bytes, "metadata.npy")
    with pytest.raises(ModelFileError, match="duplicated"):
        load_model(content)
