"""STYLE §1: imports flow worker -> webapp -> generator, with no exception."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICE_PACKAGES = ("django", "rest_framework", "celery", "kombu", "redis")
# What each package may not import, lazily or not. webapp reaches the worker
# through the broker only (webapp/jobs/dispatch.py sends tasks by name).
FORBIDDEN = {
    "generator": ("webapp", "worker", *SERVICE_PACKAGES),
    "webapp": ("worker",),
}


def imported_modules(tree: ast.AST) -> list[tuple[str, int]]:
    """Return (module, line) for every absolute import in tree, lazy ones included."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (getattr(node.func, "attr", None) or getattr(node.func, "id", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.args[0].value, node.lineno))
    return sorted(found, key=lambda item: item[1])


def is_within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def python_files(root: Path, package: str) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def layering_violations(root: Path) -> list[str]:
    """Every import that breaks the worker -> webapp -> generator direction."""
    problems: list[str] = []
    for package, forbidden in FORBIDDEN.items():
        for path in python_files(root, package):
            for module, line in imported_modules(ast.parse(path.read_text())):
                if is_within(module, forbidden):
                    problems.append(f"{path.relative_to(root)}:{line} imports {module}")
    return problems


def test_packages_respect_the_import_direction() -> None:
    assert (REPO / "generator").is_dir()
    assert (REPO / "webapp").is_dir()
    assert layering_violations(REPO) == []


def test_importing_generator_loads_no_web_or_queue_packages() -> None:
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import generator\n"
        "for info in pkgutil.walk_packages(generator.__path__, 'generator.'):\n"
        "    if not info.name.endswith('__main__'):\n"
        "        importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(name.startswith("generator.") for name in loaded)
    forbidden = ("webapp", "worker", *SERVICE_PACKAGES)
    assert [name for name in loaded if is_within(name, forbidden)] == []


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


@pytest.fixture
def clean_tree(tmp_path: Path) -> Path:
    write(tmp_path, "generator/__init__.py", "import numpy as np\nfrom . import pca\n")
    write(tmp_path, "webapp/jobs/services.py", "from generator.model import train\n")
    write(
        tmp_path,
        "webapp/jobs/dispatch.py",
        "from celery import Celery\napp = Celery('webapp')\n"
        "def train(job_id):\n    app.send_task('jobs.train', args=[job_id])\n",
    )
    write(tmp_path, "worker/tasks.py", "from webapp.jobs import services\n")
    return tmp_path


def test_checker_accepts_dispatch_by_task_name(clean_tree: Path) -> None:
    assert layering_violations(clean_tree) == []


@pytest.mark.parametrize(
    ("relative", "source", "expected"),
    [
        (
            "generator/model.py",
            "import django\n",
            "generator/model.py:1 imports django",
        ),
        (
            "generator/model.py",
            "def f():\n    from celery import shared_task\n",
            "generator/model.py:2 imports celery",
        ),
        (
            "generator/io.py",
            "from webapp.jobs import models\n",
            "generator/io.py:1 imports webapp.jobs",
        ),
        (
            "webapp/jobs/api.py",
            "import worker.tasks as tasks\n",
            "webapp/jobs/api.py:1 imports worker.tasks",
        ),
        (
            "webapp/gallery/views.py",
            "import importlib\nm = importlib.import_module('worker.tasks')\n",
            "webapp/gallery/views.py:2 imports worker.tasks",
        ),
        (
            "webapp/jobs/dispatch.py",
            "from worker import tasks\n",
            "webapp/jobs/dispatch.py:1 imports worker",
        ),
        (
            "webapp/jobs/dispatch.py",
            "def train(job_id):\n    from worker.tasks import train_task\n"
            "    train_task.delay(job_id)\n",
            "webapp/jobs/dispatch.py:2 imports worker.tasks",
        ),
        (
            "webapp/jobs/dispatch.py",
            "def app():\n    from worker.celery_app import app\n    return app\n",
            "webapp/jobs/dispatch.py:2 imports worker.celery_app",
        ),
    ],
)
def test_checker_flags_each_forbidden_import(
    clean_tree: Path, relative: str, source: str, expected: str
) -> None:
    write(clean_tree, relative, source)
    assert layering_violations(clean_tree) == [expected]
