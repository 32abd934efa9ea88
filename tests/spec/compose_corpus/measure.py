"""Share of the Compose corpus that ``eph validate`` accepts, per git revision.

    .venv/bin/python tests/spec/compose_corpus/measure.py 62b4d39 HEAD

Each revision is checked out into a temporary ``git worktree`` (the working tree
is never touched), and every ``NN-*.yaml`` of this folder is run through
``python -m pytest_ephemeral.cli validate FILE`` with that revision's ``src`` first
on ``PYTHONPATH``. Prints a Markdown table: per file, accepted or the first line of
the refusal, per revision; then the share accepted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _repo() -> Path:
    out = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def _validate(src: Path, spec: Path) -> tuple[bool, str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("COMPOSE_PROFILES", None)
    env.pop("COMPOSE_PROJECT_NAME", None)
    check = (
        "import sys, pytest_ephemeral; "
        f"assert pytest_ephemeral.__file__.startswith({str(src)!r}), pytest_ephemeral.__file__; "
        "from pytest_ephemeral.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, "validate", spec.name],
        cwd=spec.parent,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if out.returncode == 0:
        return True, ""
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit {out.returncode}"
    return False, reason.split(": ", 2)[-1][:110]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+", help="git revisions to compare")
    args = parser.parse_args()
    repo = _repo()
    files = sorted(HERE.glob("[0-9][0-9]-*.yaml"))
    results: dict[str, list[tuple[bool, str]]] = {}
    with tempfile.TemporaryDirectory(prefix="eph-corpus-") as tmp:
        for rev in args.revisions:
            tree = Path(tmp) / rev.replace("/", "_")
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=repo, check=True
            )
            try:
                results[rev] = [_validate(tree / "src", path) for path in files]
            finally:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(tree)], cwd=repo, check=True
                )
    print("| file | " + " | ".join(f"`{rev}`" for rev in args.revisions) + " |")
    print("|---|" + "---|" * len(args.revisions))
    for i, path in enumerate(files):
        cells = []
        for rev in args.revisions:
            ok, reason = results[rev][i]
            cells.append("accepted" if ok else f"refused: {reason.replace('|', '/')}")
        print(f"| {path.name} | " + " | ".join(cells) + " |")
    shares = []
    for rev in args.revisions:
        accepted = sum(ok for ok, _ in results[rev])
        shares.append(f"`{rev}`: {accepted}/{len(files)} ({100 * accepted / len(files):.0f}%)")
    print("\naccepted: " + ", ".join(shares))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
