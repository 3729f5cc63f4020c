"""Atomic file writes shared by the data cache, the classifier cache, model files
and the CLI's outputs."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through a temporary file and a rename.

    A concurrent reader or a crash never sees half a file, and a failed ``write``
    leaves the old file (if any) in place.

    Parameters
    ----------
    path : Path
        The file to create or replace; its directory must exist.
    write : callable
        Called once with the open binary stream.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> write_atomically(target, lambda stream: stream.write(b"hi") and None)
    >>> target.read_bytes()
    b'hi'
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 leaves the mode to the umask, as for any new file:
    # mkstemp would make it private, hiding it from a web server or worker that
    # runs as another user.
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
