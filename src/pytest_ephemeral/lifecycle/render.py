"""``eph render --kubernetes [-f SPEC] [--output DIR|-]``: an environment as
Kubernetes manifests, validated offline.

Exit status: 0 written, 1 a manifest fails the schemas, 2 bad input (the spec,
an argument, a feature that cannot be rendered).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..backends.kubernetes import LabelKeys
from ..errors import EphemeralError
from . import labels as L

#: the lifecycle's label names, for the manifests' labels and annotations
LABEL_KEYS = LabelKeys(
    PREFIX=L.PREFIX,
    ENV=L.ENV,
    SPEC_NAME=L.SPEC_NAME,
    SERVICE=L.SERVICE,
    SPEC_HASH=L.SPEC_HASH,
    KEPT=L.KEPT,
    SPEC_PATH=L.SPEC_PATH,
)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph render",
        description="Write an environment of the spec as the objects it would be on a "
        "cluster: a namespace, a Deployment or Job and a Service per service, probes from "
        "the waits. Validated offline against the Kubernetes schemas.",
        epilog="exit status: 0 written, 1 a manifest fails the schemas, 2 bad input",
    )
    p.add_argument("--kubernetes", action="store_true", help="render for Kubernetes")
    p.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered in .)")
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="DIR|-",
        help="a folder for one file per service (and namespace.yaml), or - for stdout (default)",
    )
    p.add_argument("--id", metavar="ID", help="the environment id (default: NAME-SPECHASH)")
    p.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="SERVICE=IMAGE",
        help="the pushed image of a service the spec builds (repeatable)",
    )
    p.add_argument(
        "--secrets",
        choices=("redact", "include"),
        default="redact",
        help="secret-looking values in the Secrets: redacted (default) or as in the spec",
    )
    p.add_argument("--kubernetes-version", metavar="X.Y", help="schemas to validate against")
    p.add_argument("--no-validate", action="store_true", help="skip the schema validation")
    p.add_argument("--profile", action="append", default=[], metavar="NAME")
    return p


class _Usage(EphemeralError):
    pass


def _images(pairs: Sequence[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        service, sep, image = pair.partition("=")
        if not sep or not service or not image:
            raise _Usage(f"--image {pair!r}: write SERVICE=IMAGE, e.g. --image api=registry/api:1")
        found[service] = image
    return found


def _dump(manifests: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML in the objects' own key order; text of several lines
    (a ConfigMap's files) as literal blocks."""
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value and not any(c in value for c in "\t\r") else None
        if style and any(line != line.rstrip() for line in value.splitlines()):
            style = None  # trailing blanks cannot be kept in a literal block
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)
    return "".join(
        "---\n" + yaml.dump(m, Dumper=_Dumper, sort_keys=False, width=100) for m in manifests
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help (0) or a usage error (2, already printed)
        return int(exc.code or 0)
    from ..backends.kubernetes import InvalidManifestError, render, validate_manifests
    from ..spec import discover_spec, load_spec

    try:
        if not args.kubernetes:
            raise _Usage("name the target: eph render --kubernetes (the only one so far)")
        spec = load_spec(discover_spec(Path.cwd(), args.file), profiles=tuple(args.profile))
        rendering = render(
            spec,
            # the same spec renders the same text: <name>-<spec hash> unless told
            env_id=args.id or f"{L.safe_name(spec.name)}-{spec.hash[:8]}",
            keys=LABEL_KEYS,
            images=_images(args.image),
            secrets=args.secrets,
        )
        version = None
        if not args.no_validate:
            try:
                version = validate_manifests(rendering.manifests, args.kubernetes_version)
            except InvalidManifestError as exc:
                print(f"eph render: error: {exc}", file=sys.stderr)
                return 1
    except EphemeralError as exc:
        print(f"eph render: error: {exc}", file=sys.stderr)
        return 2
    checked = f"validated against the Kubernetes {version} schemas" if version else "not validated"
    head = (
        f"# eph render --kubernetes: environment {rendering.env_id} of {spec.path.name} "
        f"(spec hash {spec.hash}), {checked}.\n"
        "# Start order and waits: the pytest-ephemeral.depends-on and .waits annotations.\n"
    )
    for note in rendering.notes:
        print(f"eph render: note: {note}", file=sys.stderr)
    if args.output == "-":
        sys.stdout.write(head + _dump(rendering.manifests))
        return 0
    folder = Path(args.output)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for index, (name, group) in enumerate(rendering.groups):
            path = folder / f"{index:02d}-{name}.yaml"
            path.write_text(head + _dump(group), encoding="utf-8")
            print(path)
    except OSError as exc:
        print(f"eph render: error: {folder}: cannot write: {exc.strerror}", file=sys.stderr)
        return 2
    return 0
