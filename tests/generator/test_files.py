from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

import pytest

from generator.files import write_atomically


def test_new_file_mode_follows_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    previous = os.umask(0o027)
    try:
        write_atomically(target, lambda stream: stream.write(b"data") and None)
    finally:
        os.umask(previous)

    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def fail_halfway(stream: IO[bytes]) -> None:
        stream.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, fail_halfway)

    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]
