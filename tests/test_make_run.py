"""deploy/run.py (``make run``) serves the product: DEBUG off, a secret key kept
in the data directory, hosts of this machine, and the site's own error pages."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "deploy_run", REPO / "deploy" / "run.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_run_turns_debug_off_with_a_key_kept_in_the_data_dir(
    run: ModuleType, tmp_path: Path
) -> None:
    env = run.product_environment({"PATH": "/bin", "DEBUG": " "}, tmp_path)
    assert env["DEBUG"] == "0"
    assert env["ALLOWED_HOSTS"] == "localhost,127.0.0.1,[::1]"
    # Plain http://127.0.0.1: no redirect to HTTPS.
    assert env["SECURE_SSL"] == "0"
    assert env["DATA_DIR"] == str(tmp_path)
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == env["SECRET_KEY"]
    assert len(env["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Generated once: the next run signs with the same key.
    assert run.product_environment({}, tmp_path)["SECRET_KEY"] == env["SECRET_KEY"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run.product_environment({}, elsewhere)["SECRET_KEY"] != env["SECRET_KEY"]


def test_what_the_environment_sets_wins(run: ModuleType, tmp_path: Path) -> None:
    given = {
        "DEBUG": "1",
        "SECRET_KEY": "s3cret",
        "ALLOWED_HOSTS": "studio.example",
        "SECURE_SSL": "1",
    }
    env = run.product_environment(given, tmp_path)
    assert {key: env[key] for key in given} == given
    assert not (tmp_path / "secret_key").exists()


def test_an_empty_key_file_stops_the_start(run: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("\n")
    with pytest.raises(run.StartupError, match="secret_key is empty"):
        run.product_environment({}, tmp_path)


def test_the_product_answers_a_missing_page_with_its_own_404(
    run: ModuleType, tmp_path: Path
) -> None:
    env = run.product_environment(
        {
            "PATH": os.environ["PATH"],
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        },
        tmp_path,
    )
    script = (
        "import json, django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.test import Client\n"
        "response = Client(HTTP_HOST='localhost').get('/no/such/page/')\n"
        "content = response.content.decode()\n"
        "print(json.dumps({'debug': settings.DEBUG, 'status': response.status_code,"
        " 'branded': 'Page not found' in content and 'MNIST KDE Studio' in content,"
        " 'patterns': 'URLconf' in content}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "webapp.settings"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "debug": False,
        "status": 404,
        "branded": True,
        "patterns": False,
    }
