"""Images: the Debian base (debootstrap), the stand-ins for the images the
project's files name, and the MNIST files the containers read."""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from compose_smoke.common import CI_DIR, REPO, STATE_DIR, Failure, run, say
from compose_smoke.host import docker, unmount_under

SUITE = "bookworm"
DEBOOTSTRAP_IMAGE = f"mnist-kde-ci/debootstrap:{SUITE}"
BASE_IMAGE = f"mnist-kde-ci/{SUITE}"
# Build order matters: each stand-in starts FROM the base.
STAND_INS = (
    (BASE_IMAGE, "base"),
    ("python:3.11-slim", "python"),
    ("postgres:16", "postgres"),
    ("redis:7", "redis"),
)
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
CONTAINER_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
MNIST_EXPORT = STATE_DIR / "mnist"
# Runs in the project's virtualenv: the host's verified MNIST (fetched first if
# needed) written out as the four raw IDX files, for the containers' MNIST_DIR.
EXPORT_MNIST = """
import sys
from pathlib import Path

import numpy as np

from generator.datasets import IDX_FILE_NAMES, load_dataset, write_idx

data = load_dataset("mnist", data_dir=sys.argv[1])
arrays = (data.images_train, data.labels_train, data.images_test, data.labels_test)
for name, array in zip(IDX_FILE_NAMES, arrays, strict=True):
    Path(sys.argv[2], name).write_bytes(write_idx(array.astype(np.uint8)))
"""


# --- Host configuration, read at run time --------------------------------------------


def debian_mirror(
    sources: Sequence[Path] = (
        Path("/etc/apt/sources.list.d/debian.sources"),
        Path("/etc/apt/sources.list"),
    ),
    suite: str = SUITE,
) -> str:
    """The first mirror apt uses for ``suite`` main (deb822 or one-line format)."""
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text()
        entries = (
            _deb822_entries(text) if path.suffix == ".sources" else _list_entries(text)
        )
        for types, uris, suites, components in entries:
            if "deb" in types and suite in suites and "main" in components and uris:
                return uris[0]
    raise Failure(
        f"apt has no mirror for {suite} main in {', '.join(map(str, sources))}"
    )


AptEntry = tuple[list[str], list[str], list[str], list[str]]


def _deb822_entries(text: str) -> Iterator[AptEntry]:
    for stanza in text.split("\n\n"):
        fields: dict[str, list[str]] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or line[:1].isspace() or ":" not in line:
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.split()
        if fields.get("enabled") != ["no"]:
            yield (
                fields.get("types", []),
                fields.get("uris", []),
                fields.get("suites", []),
                fields.get("components", []),
            )


def _list_entries(text: str) -> Iterator[AptEntry]:
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) > 1 and words[1].startswith("["):
            # "deb [arch=amd64 signed-by=...] URI suite component..."
            end = next((i for i, word in enumerate(words) if word.endswith("]")), 0)
            words = [words[0], *words[end + 1 :]]
        if len(words) >= 4:
            yield [words[0]], [words[1]], [words[2]], words[3:]


PIP_INDEX_KEYS = ("index-url", "extra-index-url", "trusted-host")


def pip_config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files, in pip's order: site-wide, the user's, then
    ``PIP_CONFIG_FILE``."""
    home = Path(environ.get("HOME", "/root"))
    site_dirs = environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(directory, "pip", "pip.conf") for directory in site_dirs]
    files += [
        Path("/etc/pip.conf"),
        home / ".pip" / "pip.conf",
        Path(environ.get("XDG_CONFIG_HOME", home / ".config"), "pip", "pip.conf"),
    ]
    if environ.get("PIP_CONFIG_FILE"):
        files.append(Path(environ["PIP_CONFIG_FILE"]))
    return files


def pip_index_config(
    files: Sequence[Path], environ: Mapping[str, str]
) -> dict[str, str]:
    """The pip index settings of this host that a container can use.

    As pip resolves them for ``pip install``: the [install] section wins over
    [global], a later file over an earlier one, ``PIP_*`` variables over files.
    ``file://`` indexes are left out: a container cannot see the host's files.
    """
    parsers = []
    for path in files:
        parser = configparser.ConfigParser(interpolation=None)
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(path)
        parsers.append(parser)
    settings: dict[str, str] = {}
    for section in ("global", "install"):
        for parser in parsers:
            for key in PIP_INDEX_KEYS:
                if parser.has_option(section, key):
                    settings[key] = parser.get(section, key)
    for key in PIP_INDEX_KEYS:
        value = environ.get("PIP_" + key.upper().replace("-", "_"), "")
        if value.strip():
            settings[key] = value
    usable: dict[str, str] = {}
    for key, value in settings.items():
        words = value.split()
        if key != "trusted-host":
            words = [word for word in words if word.startswith(("http://", "https://"))]
        if words:
            usable[key] = " ".join(words)
    return usable


def pip_conf_text(index: Mapping[str, str]) -> str:
    lines = ["[global]", f"cert = {CONTAINER_CA_BUNDLE}"]
    lines += [f"{key} = {value}" for key, value in sorted(index.items())]
    return "\n".join(lines) + "\n"


# --- Building ------------------------------------------------------------------------


def image_exists(name: str) -> bool:
    return docker("image", "inspect", name, capture=True, check=False).returncode == 0


def debootstrap_image() -> None:
    """Debian minbase from this machine's apt mirror, imported as DEBOOTSTRAP_IMAGE."""
    mirror = debian_mirror()
    rootfs = tempfile.mkdtemp(dir=STATE_DIR, prefix="rootfs-")
    try:
        run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=ca-certificates",
                SUITE,
                rootfs,
                mirror,
            ],
            timeout=1200,
        )
        root = Path(rootfs)
        # As in Debian's official images: no package lists or downloaded packages,
        # and not this host's resolver (the engine writes each container's own).
        for pattern in (
            "var/cache/apt/archives/*.deb",
            "var/cache/apt/*.bin",
            "var/lib/apt/lists/*",
        ):
            for path in root.glob(pattern):
                if path.is_file():
                    path.unlink()
        (root / "etc" / "resolv.conf").unlink(missing_ok=True)
        tar = subprocess.Popen(
            ["tar", "--numeric-owner", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE
        )
        assert tar.stdout is not None
        docker(
            "import",
            "--change",
            'CMD ["bash"]',
            "-",
            DEBOOTSTRAP_IMAGE,
            stdin=tar.stdout,
        )
        if tar.wait() != 0:
            raise Failure(
                f"tar of the debootstrapped tree exited with {tar.returncode}"
            )
    finally:
        # An interrupted debootstrap leaves /proc and /sys mounted in the tree.
        unmount_under(Path(rootfs))
        shutil.rmtree(rootfs)


def build_stand_ins() -> None:
    """Build the base and stand-in images (Docker's cache skips unchanged ones)."""
    if not image_exists(DEBOOTSTRAP_IMAGE):
        debootstrap_image()
    index = pip_index_config(pip_config_files(os.environ), os.environ)
    say(f"pip index settings for the images: {index or 'none (pip defaults)'}")
    for tag, directory in STAND_INS:
        with tempfile.TemporaryDirectory(prefix="compose-smoke-") as context:
            shutil.copytree(CI_DIR / "images" / directory, context, dirs_exist_ok=True)
            # Build inputs from this host; only the Dockerfiles that COPY them use them.
            certificates = Path(context, "ca-certificates")
            certificates.mkdir()
            for certificate in sorted(HOST_CA_DIR.rglob("*.crt")):
                shutil.copy(certificate, certificates / certificate.name)
            Path(context, "pip.conf").write_text(pip_conf_text(index))
            docker("build", "--tag", tag, context, timeout=1200)


def remove_images(names: Sequence[str]) -> None:
    """Remove these images, and what an interrupted build may have left behind."""
    present = [name for name in names if image_exists(name)]
    if present:
        docker("image", "rm", *present)
    docker("container", "prune", "--force")
    docker("image", "prune", "--force")


def export_mnist() -> Path:
    """The four raw MNIST IDX files for the containers' MNIST_DIR, from the host."""
    if len(list(MNIST_EXPORT.glob("*-ubyte"))) != 4:
        python = REPO / ".venv" / "bin" / "python"
        if not python.exists():
            raise Failure(f"{python} is missing: run `make install` first")
        staging = Path(tempfile.mkdtemp(dir=STATE_DIR, prefix="mnist-"))
        try:
            exported = run(
                [str(python), "-c", EXPORT_MNIST, str(REPO / "data"), str(staging)],
                check=False,
                timeout=900,
            )
            if exported.returncode != 0:
                raise Failure(
                    "MNIST is not available on this host, and the worker-restart "
                    "check trains on it: `.venv/bin/python -m generator fetch mnist`"
                )
            shutil.rmtree(MNIST_EXPORT, ignore_errors=True)
            staging.rename(MNIST_EXPORT)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    # Readable by the containers' non-root user.
    MNIST_EXPORT.chmod(0o755)
    for path in MNIST_EXPORT.iterdir():
        path.chmod(0o644)
    return MNIST_EXPORT
