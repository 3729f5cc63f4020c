"""Small IDX files, sources and a loopback mirror for the data set tests."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from generator.datasets import write_idx


def make_raw_files(seed: int = 0) -> dict[str, bytes]:
    """Four small IDX files of non-square 4x3 images (so nothing can assume 28x28)."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (12, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 12, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 5, dtype=np.uint8),
    }
    return {name: write_idx(array) for name, array in arrays.items()}


def hashes_of(raw: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in raw.items()}


def write_dir(
    directory: Path, raw: dict[str, bytes], *, gz: Sequence[str] = ()
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in raw.items():
        if name in gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (directory / name).write_bytes(data)
    return directory


def tampered(raw: dict[str, bytes], name: str) -> dict[str, bytes]:
    copy = dict(raw)
    data = bytearray(copy[name])
    data[-1] ^= 0xFF
    copy[name] = bytes(data)
    return copy


class RecordingSource:
    def __init__(self, raw: dict[str, bytes]) -> None:
        self.raw = raw
        self.calls = 0

    @property
    def description(self) -> str:
        return "recording source"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        self.calls += 1
        return {name: self.raw[name] for name in file_names}


class Mirror:
    """A loopback HTTP server serving ``files`` (path -> bytes) and logging paths."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/mnist/"
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )

    def serve(self, raw: dict[str, bytes]) -> None:
        for name, data in raw.items():
            self.files[f"/mnist/{name}.gz"] = gzip.compress(data, mtime=0)


def make_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
