"""``eph lock``: each image's digest recorded in ``ephemeral.lock`` beside
the spec, so that every run uses exactly those images (DESIGN §6).

``eph lock [-f SPEC]`` asks the registry (through the engine, nothing is
pulled) for the digest each image's tag names now and writes the lock file;
``eph lock --check`` compares the lock with the registry and exits 1 naming
each tag that moved. When the lock file exists, runs use the digests: an
image becomes ``name@sha256:...`` (after the image map, so a mirror serves
the same content), and a build's base images are pinned the same way.

The file is JSON: ``{"version": 1, "spec": "ephemeral.yaml", "images":
{"NAME:TAG": "sha256:..."}}``; keys are the images as the spec (or a
Dockerfile's ``FROM``) names them.

Exit status: 0 ok; 1 a tag moved, or an image could not be resolved; 2 bad
input (spec, lock file, arguments); 3 the engine is unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EngineUnavailableError, EphemeralError, SpecError

if TYPE_CHECKING:
    from ..runtime.backend import Backend
    from ..spec.model import Spec

__all__ = ["LOCK_NAME", "images_of", "lock_path", "locked_digests", "main", "read_lock"]

LOCK_NAME = "ephemeral.lock"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENGINE = 0, 1, 2, 3


def lock_path(spec_path: Path) -> Path:
    return spec_path.parent / LOCK_NAME


def read_lock(path: Path) -> dict[str, str]:
    """The lock file's images (name -> digest); an unusable file is a
    SpecError naming it and the fix."""
    fix = "run `eph lock` to write it again, or delete it to use the tags"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(f"cannot read the lock file: {exc}", file=path, fix=fix) from None
    except ValueError as exc:
        raise SpecError(f"the lock file is not JSON ({exc})", file=path, fix=fix) from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.startswith("sha256:")
        for k, v in images.items()
    ):
        raise SpecError(
            'the lock file has no "images" table of NAME: "sha256:..."', file=path, fix=fix
        )
    return dict(images)


def locked_digests(spec: Spec) -> dict[str, str]:
    """The digests a run of ``spec`` uses: its lock file's, or none when
    there is no lock file."""
    path = lock_path(spec.path)
    return read_lock(path) if path.is_file() else {}


def images_of(spec: Spec) -> list[str]:
    """Every image a run of ``spec`` needs from a registry, as the spec names
    it: each service's ``image:`` (services without ``build:``), and the base
    images of each ``build:``, in order, once each."""
    from ..runtime.images import dockerfile_bases

    out: list[str] = []
    for svc in spec.services.values():
        if svc.build is not None:
            dockerfile = svc.build.context / svc.build.dockerfile
            try:
                text = dockerfile.read_text(encoding="utf-8")
            except OSError as exc:
                raise SpecError(
                    f"services.{svc.name}.build: cannot read {dockerfile}: {exc}",
                    file=spec.path,
                    fix="fix the build context or dockerfile",
                ) from None
            names = dockerfile_bases(text, svc.build.args)
        elif svc.image is not None:
            names = [svc.image]
        else:
            names = []
        for name in names:
            if name not in out:
                out.append(name)
    return out


def _resolve(
    backend: Backend, images: Sequence[str], image_map: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Each image's digest in its registry now (through the image map), and
    the errors of those that could not be resolved."""
    digests: dict[str, str] = {}
    errors: list[str] = []
    for image in images:
        try:
            digests[image] = backend.registry_digest(image_map.get(image, image))
        except EngineUnavailableError:
            raise
        except EphemeralError as exc:
            errors.append(str(exc))
    return digests, errors


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="eph lock",
        description="Record each image's registry digest in ephemeral.lock beside the spec; "
        "runs then use exactly those images.",
        epilog="exit status: 0 ok, 1 a tag moved or an image could not be resolved, "
        "2 bad input, 3 engine unreachable",
    )
    p.add_argument("-f", "--file", metavar="SPEC", help="the spec (default: discovered in .)")
    p.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming each tag whose digest moved since the lock",
    )
    p.add_argument("--image-map", action="append", default=[], metavar="FROM=TO")
    p.add_argument("--profile", action="append", default=[], metavar="NAME")
    return p


def _err(text: str) -> None:
    print(f"eph lock: error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return _run(args)
    except EngineUnavailableError as exc:
        _err(str(exc))
        return EXIT_ENGINE
    except EphemeralError as exc:  # the spec, the lock file, the settings
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _run(args: argparse.Namespace) -> int:
    from ..backends import make_backend
    from ..config import image_map_from
    from ..spec import discover_spec, load_spec

    spec_path = discover_spec(Path.cwd(), args.file, None).resolve()
    spec = load_spec(spec_path, profiles=tuple(args.profile))
    image_map = image_map_from(args.image_map, [], os.environ)
    images = images_of(spec)
    path = lock_path(spec_path)
    backend = make_backend(os.environ.get("EPH_BACKEND", "docker"))
    try:
        if args.check:
            return _check(backend, path, images, image_map)
        digests, errors = _resolve(backend, images, image_map)
    finally:
        backend.close()
    for error in errors:
        _err(error)
    if errors:
        print(f"eph lock: {path} not written ({len(errors)} image(s) not resolved)")
        return EXIT_FAILED
    body = {"version": 1, "spec": spec_path.name, "images": dict(sorted(digests.items()))}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    for image, digest in sorted(digests.items()):
        print(f"{image}  {digest}")
    print(f"wrote {path} ({len(digests)} image(s))")
    return EXIT_OK


def _check(
    backend: Backend, path: Path, images: Sequence[str], image_map: Mapping[str, str]
) -> int:
    if not path.is_file():
        _err(f"{path}: no lock file (run `eph lock` to write it)")
        return EXIT_FAILED
    locked = read_lock(path)
    status = EXIT_OK
    missing = [image for image in images if image not in locked]
    for image in missing:
        print(f"not locked: {image} (run `eph lock` to record it)")
        status = EXIT_FAILED
    current, errors = _resolve(backend, [i for i in images if i in locked], image_map)
    for error in errors:
        _err(error)
        status = EXIT_FAILED
    moved = 0
    for image, digest in current.items():
        if digest != locked[image]:
            moved += 1
            print(f"moved: {image}: locked {locked[image]}, the registry has {digest} now")
            status = EXIT_FAILED
    if status == EXIT_OK:
        print(f"{path}: {len(current)} image(s), none moved")
    elif moved:
        print(f"{moved} tag(s) moved since {path.name} was written (run `eph lock` to accept)")
    return status
