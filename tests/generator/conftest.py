"""Fixtures of the generator tests: the digits data set and its classifier, and
generated IDX files posing as MNIST."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generator.classifier import DigitClassifier, fit_classifier
from generator.datasets import Dataset, catalog, load_dataset
from tests.generator.idx_files import Mirror, hashes_of, make_raw_files


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mirror]:
    # A proxy configured in the environment must not intercept loopback requests.
    for variable in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    server = Mirror()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    server.thread.join(timeout=5)


@pytest.fixture
def raw_files() -> dict[str, bytes]:
    return make_raw_files()


@pytest.fixture
def fake_mnist(
    monkeypatch: pytest.MonkeyPatch, raw_files: dict[str, bytes]
) -> dict[str, bytes]:
    """Makes the small generated files the expected MNIST files."""
    monkeypatch.setattr(catalog, "MNIST_SHA256", hashes_of(raw_files))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    return raw_files


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digits_classifier(digits: Dataset) -> DigitClassifier:
    return fit_classifier(digits)
