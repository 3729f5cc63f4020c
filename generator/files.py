"""File helpers: atomic writes (for the data cache, the classifier cache, model
files and the CLI's outputs) and SHA-256 digests of files."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["file_sha256", "write_atomically"]

_CHUNK_BYTES = 1 << 20


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


def file_sha256(file: str | os.PathLike[str] | bytes | IO[bytes]) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks.

    Parameters
    ----------
    file : str, os.PathLike, bytes or binary file object
        A file object is read from its current position to the end.

    Returns
    -------
    str
        64 lowercase hex digits.

    Examples
    --------
    >>> file_sha256(b"")[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    if isinstance(file, bytes | bytearray | memoryview):
        digest.update(file)
    elif isinstance(file, str | os.PathLike):
        with open(file, "rb") as stream:
            _hash_stream(digest, stream)
    else:
        _hash_stream(digest, file)
    return digest.hexdigest()


def _hash_stream(digest: Any, stream: IO[bytes]) -> None:
    while chunk := stream.read(_CHUNK_BYTES):
        digest.update(chunk)
