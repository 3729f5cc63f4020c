"""The README's curl session, run as written (twice) against the live server and a
real worker: the first run signs up, the second takes a token for the same user."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.integration_support import REPO, Api
from webapp.jobs.models import Job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def readme_session() -> str:
    """The shell block under "A session with curl"."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("### A session with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_session_runs_twice(api: Callable[[], Api], tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("the README's session needs curl")
    script = readme_session()
    assert script.startswith("BASE=http://127.0.0.1:8000\n")
    script = script.replace("BASE=http://127.0.0.1:8000", f"BASE={api().base_url}", 1)
    for run in (1, 2):
        workdir = tmp_path / f"run-{run}"
        workdir.mkdir()
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        # curl prints no newline after a body: wait_job's states and the
        # DELETE's status end lines of their own.
        ends = re.findall(r"(succeeded|failed|cancelled|\d{3})$", result.stdout, re.M)
        assert ends == ["succeeded", "succeeded", "204"], result.stdout
        with Image.open(workdir / "sevens.png") as sheet:
            assert sheet.format == "PNG"
        with zipfile.ZipFile(workdir / "sevens.zip") as archive:
            assert len([n for n in archive.namelist() if n.endswith(".png")]) == 16
        assert (workdir / "model.npz").stat().st_size > 0
    jobs = Job.objects.filter(owner__username="ada")
    assert jobs.count() == 4
    assert jobs.filter(name="first, sevens taken").count() == 2
