"""Python run in a fresh interpreter, as a process of the product starts: from the
repository's root, with PATH, a data directory and only the variables given."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_python(
    code: str,
    *args: str,
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python -c code *args``: its exit status and output."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
