#!/usr/bin/env python
"""``eph render --kubernetes`` and ``eph parity``: what they cost, in one run.

Measured side by side, interleaved, for each example spec (``examples/``):

render
    the spec model to manifests (no validation).
render + validate
    the same, then every manifest checked by ``validate_manifests`` (strict
    schemas, one validator per kind, built once per process).
render + kubernetes_validate.validate
    the same check through the package's own entry point, which reads the
    1.4 MB definitions again for every object (what the first version did).

And ``parity_report`` of the parity test spec against its helm-template-like
sample (9 objects), and against the same workloads repeated N times
(``--copies``, default 50) to show how the comparison grows.

Run:  python benchmarks/bench_render.py [--repeat 15] [--copies 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import yaml

from pytest_ephemeral.backends.kubernetes import render as _render
from pytest_ephemeral.backends.kubernetes import validate_manifests
from pytest_ephemeral.lifecycle.render import LABEL_KEYS
from pytest_ephemeral.parity import parity_report
from pytest_ephemeral.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("compose", "docker-compose.yml", {}),
    ("seeded", "ephemeral.yaml", {}),
    ("quickstart", "ephemeral.yaml", {"api": "registry.example.com/quickstart/api:1"}),
)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def render(spec: Any, **kwargs: Any) -> Any:
    """The renderer as ``eph render`` calls it."""
    return _render(spec, env_id=f"{spec.name}-{spec.hash[:8]}", keys=LABEL_KEYS, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--copies", type=int, default=50)
    args = parser.parse_args()
    version = kubernetes_validate.latest_version()

    start = time.perf_counter()
    spec = load_spec(ROOT / "examples" / "compose" / "docker-compose.yml")
    validate_manifests(render(spec).manifests)
    cold = time.perf_counter() - start

    print(
        "| spec | objects | render | render + validate "
        "| render + kubernetes_validate.validate | ratio |"
    )
    print("|---|---|---|---|---|---|")
    for name, file, images in EXAMPLES:
        spec = load_spec(ROOT / "examples" / name / file)
        count = len(render(spec, images=images).manifests)

        def plain(spec: Spec = spec, images: dict[str, str] = images) -> object:
            return render(spec, images=images)

        def cached(spec: Spec = spec, images: dict[str, str] = images) -> object:
            return validate_manifests(render(spec, images=images).manifests)

        def package(spec: Spec = spec, images: dict[str, str] = images) -> object:
            return [
                kubernetes_validate.validate(m, version, strict=True)
                for m in render(spec, images=images).manifests
            ]

        runs: dict[str, list[float]] = {"plain": [], "cached": [], "package": []}
        for _ in range(args.repeat):  # interleaved: the machine is shared
            runs["plain"].append(timed(plain))
            runs["cached"].append(timed(cached))
            runs["package"].append(timed(package))
        med = {k: statistics.median(v) * 1000 for k, v in runs.items()}
        print(
            f"| {name} | {count} | {med['plain']:.1f} ms | {med['cached']:.1f} ms | "
            f"{med['package']:.0f} ms | {med['package'] / med['cached']:.0f}x |"
        )
    print(f"\nfirst validation in a process (schemas read, validators built): {cold * 1000:.0f} ms")

    spec = load_spec(ROOT / "tests" / "parity" / "data" / "ephemeral.yaml")
    sample = ROOT / "tests" / "parity" / "data" / "helm" / "rendered.yaml"
    docs = [d for d in yaml.safe_load_all(sample.read_text()) if d]
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.yaml"
        copies = []
        for i in range(args.copies):
            for doc in docs:
                doc = yaml.safe_load(yaml.safe_dump(doc))
                doc["metadata"]["name"] = f"{doc['metadata']['name']}-{i}"
                copies.append(doc)
        big.write_text(yaml.safe_dump_all(copies))
        small_t = [timed(lambda: parity_report(spec, [sample])) for _ in range(args.repeat)]
        big_t = [timed(lambda: parity_report(spec, [big])) for _ in range(max(3, args.repeat // 3))]
        text = big.read_text()
        c_loader = [timed(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))]
        py_loader = [timed(lambda: list(yaml.load_all(text, Loader=yaml.SafeLoader)))]
        for _ in range(2):
            c_loader.append(timed(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader))))
            py_loader.append(timed(lambda: list(yaml.load_all(text, Loader=yaml.SafeLoader))))
    print(
        f"parity, helm sample ({len(docs)} objects): {statistics.median(small_t) * 1000:.0f} ms; "
        f"{args.copies} copies ({len(copies)} objects): {statistics.median(big_t) * 1000:.0f} ms"
    )
    c_med, py_med = statistics.median(c_loader), statistics.median(py_loader)
    print(
        f"reading those {len(copies)} objects: libyaml {c_med * 1000:.0f} ms, pure-Python "
        f"PyYAML {py_med * 1000:.0f} ms ({py_med / c_med:.1f}x)"
    )


if __name__ == "__main__":
    main()
