"""STYLE §1: imports flow worker -> webapp -> generator, with one lazy back-edge."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# webapp/jobs/dispatch.py may import worker.tasks, lazily inside its functions.
DISPATCH = Path("webapp/jobs/dispatch.py")
SERVICE_PACKAGES = ("django", "rest_framework", "celery", "kombu", "redis")


def imported_modules(tree: ast.AST) -> list[tuple[str, int, bool]]:
    """Return (module, line, at_module_level) for every absolute import in tree."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            if isinstance(child, ast.Import):
                found.extend(
                    (alias.name, child.lineno, not nested) for alias in child.names
                )
            elif (
                isinstance(child, ast.ImportFrom) and child.level == 0 and child.module
            ):
                found.append((child.module, child.lineno, not nested))
            elif (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute | ast.Name)
                and (
                    getattr(child.func, "attr", None) or getattr(child.func, "id", None)
                )
                in ("import_module", "__import__")
                and child.args
                and isinstance(child.args[0], ast.Constant)
                and isinstance(child.args[0].value, str)
            ):
                found.append((child.args[0].value, child.lineno, not nested))
            visit(child, inner)

    visit(tree, False)
    return found


def is_within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def python_files(root: Path, package: str) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def layering_violations(root: Path) -> list[str]:
    """Every import that breaks the worker -> webapp -> generator direction."""
    problems: list[str] = []
    for path in python_files(root, "generator"):
        for module, line, _ in imported_modules(ast.parse(path.read_text())):
            if is_within(module, ("webapp", "worker", *SERVICE_PACKAGES)):
                problems.append(f"{path.relative_to(root)}:{line} imports {module}")
    for path in python_files(root, "webapp"):
        relative = path.relative_to(root)
        for module, line, top_level in imported_modules(ast.parse(path.read_text())):
            if not is_within(module, ("worker",)):
                continue
            if relative == DISPATCH and not top_level:
                continue
            where = "at module level " if relative == DISPATCH else ""
            problems.append(f"{relative}:{line} imports {module} {where}".strip())
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
        "def train(job_id):\n    from worker.tasks import train_task\n"
        "    train_task.delay(job_id)\n",
    )
    return tmp_path


def test_checker_accepts_the_sanctioned_lazy_back_edge(clean_tree: Path) -> None:
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
            "webapp/jobs/dispatch.py:1 imports worker at module level",
        ),
    ],
)
def test_checker_flags_each_forbidden_import(
    clean_tree: Path, relative: str, source: str, expected: str
) -> None:
    write(clean_tree, relative, source)
    assert layering_violations(clean_tree) == [expected]
