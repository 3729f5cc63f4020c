"""STYLE §1-2 for webapp: only the use-case modules (and the training form's
options) call the generator; views, serializers and forms never do."""

from __future__ import annotations

import ast
from pathlib import Path

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
# services.py and the modules a large one splits into, one per use case; and the
# training form's options, which lists the generator's choices and bounds.
GENERATOR_CALLERS = {
    "services.py",
    "runner.py",
    "serving.py",
    "maintenance.py",
    "evaluation.py",
    "walks.py",
    "training_options.py",
}


def generator_imports(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "generator" or name.startswith("generator.") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_use_case_modules_import_the_generator() -> None:
    offenders = [
        f"{path.relative_to(WEBAPP.parent)}:{line}"
        for path in sorted(WEBAPP.rglob("*.py"))
        if path.name not in GENERATOR_CALLERS
        for line in generator_imports(path)
    ]
    assert offenders == []


def test_the_checker_sees_generator_imports(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text("import os\nfrom generator.model import train_model\n")
    assert generator_imports(module) == [2]
