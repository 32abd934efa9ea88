"""Every third-party import under src/ is declared in pyproject.toml.

    python scripts/check_imports.py

Reads every module of ``src/`` with ``ast`` (nothing is imported), keeps the
absolute imports that are neither the standard library nor the package itself,
maps each to the distribution that provides it (from the installed
distributions' metadata, plus a few well-known names), and checks that the
distribution is a dependency or in an optional extra. Prints one line per
undeclared import (file:line, module, distribution) and exits 1 when there is
one; exits 0 and prints a summary otherwise.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

if sys.version_info < (3, 11):  # pragma: no cover - a developer tool, run on 3.11+
    raise SystemExit("scripts/check_imports.py needs Python 3.11 or later (tomllib)")
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "pytest_ephemeral"
# import name -> distribution, for modules that may not be installed where this runs
KNOWN = {
    "yaml": "PyYAML",
    "docker": "docker",
    "testcontainers": "testcontainers",
    "psycopg": "psycopg",
    "filelock": "filelock",
    "pytest": "pytest",
    "_pytest": "pytest",
    "pluggy": "pluggy",
    "aiohttp": "aiohttp",
    "ijson": "ijson",
    "hdrh": "hdrhistogram",
    "uvloop": "uvloop",
    "kubernetes_validate": "kubernetes-validate",
    "jsonschema": "jsonschema",
    "referencing": "referencing",
    "xdist": "pytest-xdist",
    "requests": "requests",
    "urllib3": "urllib3",
    "yarl": "yarl",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """distribution (normalised) -> where it is declared ("dependencies" or "extra X")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {_normal(_name(r)): "dependencies" for r in project.get("dependencies", [])}
    for extra, requirements in project.get("optional-dependencies", {}).items():
        for requirement in requirements:
            found.setdefault(_normal(_name(requirement)), f"extra {extra}")
    return found


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def main() -> int:
    have = declared()
    providers = packages_distributions()
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    problems: list[str] = []
    used: dict[str, str] = {}
    for path in sorted((ROOT / "src").rglob("*.py")):
        for line, module in imports(path):
            if module in stdlib or module == PACKAGE:
                continue
            names = KNOWN.get(module) or next(iter(providers.get(module, [])), None)
            where = f"{path.relative_to(ROOT)}:{line}"
            if names is None:
                problems.append(f"{where}: import {module}: no known distribution provides it")
                continue
            status = have.get(_normal(names))
            if status is None:
                problems.append(f"{where}: import {module}: distribution {names} is not declared")
            else:
                used[names] = status
    for problem in problems:
        print(problem)
    if problems:
        return 1
    summary = ", ".join(f"{name} ({status})" for name, status in sorted(used.items()))
    print(f"every third-party import of src/ is declared: {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
