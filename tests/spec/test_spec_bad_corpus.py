"""The corpus of malformed specs in ``bad/``: each must fail with a SpecError whose
one-line message names the file, the line (where there is one) and what is wrong.

The table below is the corpus's sidecar: file -> (expected line, message fragment).
Every file of ``bad/`` must be in it, and every entry must have its file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import load_spec

BAD = Path(__file__).parent / "bad"

EXPECTED: dict[str, tuple[int | None, str]] = {
    "01-invalid-yaml.yaml": (4, "invalid YAML: mapping values are not allowed here"),
    "02-empty.yaml": (None, "the spec is empty"),
    "03-only-comments.yaml": (None, "the spec holds only comments"),
    "04-list-at-top.yaml": (2, "the top level must be a mapping with services:, got a list"),
    "05-ports-string-map.yaml": (5, "services.web.ports: expected a list, got a mapping"),
    "06-environment-int.yaml": (
        5,
        "services.api.environment: expected a mapping or a list of NAME=value, got the number 5",
    ),
    "07-unknown-top-key.yaml": (2, "service: unknown key (did you mean 'services'?)"),
    "08-unknown-service-key.yaml": (4, "services.db.imgae: unknown key (did you mean 'image'?)"),
    "09-duplicate-key.yaml": (6, "services.db.image: duplicate key 'image', first at line 4"),
    "10-duplicate-service.yaml": (5, "services.db: duplicate key 'db', first at line 3"),
    "11-invalid-service-name.yaml": (3, "services['my db']: invalid service name 'my db'"),
    "12-cycle.yaml": (8, "services.b.depends_on.a: dependency cycle: a -> b -> a"),
    "13-self-dependency.yaml": (
        6,
        "services.api.depends_on.api: a service cannot depend on itself",
    ),
    "14-unknown-dependency.yaml": (
        10,
        "services.api.depends_on.dbb: unknown service 'dbb' "
        "(known: cache, db; fix the name or add the service)",
    ),
    "15-unknown-condition.yaml": (
        8,
        "unknown condition 'service_ready' (did you mean 'service_healthy'?)",
    ),
    "16-bad-duration.yaml": (
        7,
        "services.db.healthcheck.interval: duration '1 minute' is not a duration",
    ),
    "17-negative-timeout.yaml": (7, "services.cache.wait.timeout: duration '-5s' is negative"),
    "18-zero-timeout.yaml": (5, "services.cache.wait.timeout: duration '0' must be more than zero"),
    "19-port-out-of-range.yaml": (5, "services.api.ports[1]: container port 70000 is out of range"),
    "20-port-range-lengths.yaml": (6, "port ranges of different lengths in '9000-9001:8000-8010'"),
    "21-bad-regex.yaml": (
        6,
        "invalid regular expression '([Rr]eady': missing ), unterminated subpattern",
    ),
    "22-wait-port-not-published.yaml": (
        7,
        "waits on port 8000, but the service publishes no tcp port",
    ),
    "23-completed-and-healthy.yaml": (
        10,
        "condition service_healthy cannot be met: 'migrate' waits until it has completed",
    ),
    "24-healthcheck-wait-disabled.yaml": (
        8,
        "waits for a healthcheck, but the service's healthcheck is disabled",
    ),
    "25-no-image-no-build.yaml": (3, "services.api: has neither image: nor build:"),
    "26-missing-env-file.yaml": (6, "env_file '.env.test' not found"),
    "27-missing-seed-file.yaml": (6, "seed file 'seed/schema.sql' not found"),
    "28-missing-long-bind-source.yaml": (6, "bind mount source './app' not found"),
    "29-required-variable.yaml": (
        6,
        "required variable DB_PASSWORD is not set: set DB_PASSWORD to the test password",
    ),
    "30-invalid-container-name.yaml": (5, "invalid container name 'shop db'"),
    "31-deploy-gpu-reservation.yaml": (
        8,
        "services.api.deploy.resources.reservations.devices: Compose key 'devices' is not "
        "supported here: host devices are not passed to test containers",
    ),
    "32-undeclared-network.yaml": (5, "network 'backend' is not declared (known: default;"),
    "33-undeclared-volume.yaml": (6, "named volume 'pgdata' is not declared (known: none;"),
    "34-bad-mem-limit.yaml": (5, "mem_limit 'half a gig' is not a size"),
    "35-bad-seed-step.yaml": (6, "seed step has no kind, only file"),
    "36-profile-inactive-dependency.yaml": (
        8,
        "'api' is active but depends on 'mailhog', which belongs only to profile(s) debug",
    ),
    "37-unterminated-interpolation.yaml": (6, "unterminated '${' in '${DB_HOST:-db'"),
    "38-several-documents.yaml": (5, "the file holds several YAML documents"),
    "39-tab-indentation.yaml": (
        4,
        "invalid YAML: found character '\\t' that cannot start any token (indent with spaces",
    ),
    "40-healthcheck-test.yaml": (
        6,
        "test must start with CMD, CMD-SHELL or NONE, not 'pg_isready'",
    ),
    "41-http-path.yaml": (9, "path 'health' does not start with '/' (write '/health')"),
    "42-python-seed-target.yaml": (6, "'shop.seeds.load' is not 'module:function'"),
    "43-services-empty.yaml": (3, "services: no services"),
    "44-no-services-key.yaml": (2, "the spec has no 'services:'"),
    "45-wait-given-twice.yaml": (7, "'wait' is given both directly (line 5) and under x-ephemeral"),
    "46-bad-project-name.yaml": (2, "invalid name 'My Shop'"),
    "47-external-secret.yaml": (
        4,
        "secrets.db_password.external: Compose key 'external' is not supported here",
    ),
    "48-link-unknown-service.yaml": (7, "services.api.links[0]: unknown service 'database'"),
    "49-python-tag.yaml": (3, "YAML tag '!!python/object/apply:os.system' is not supported"),
    "50-wait-timeouts-differ.yaml": (8, "second timeout 1m differs from 30s at line 7"),
    "51-unknown-wait-kind.yaml": (
        5,
        "services.api.wait.ready: unknown key (use one of: log, port, http",
    ),
    "52-undefined-alias.yaml": (4, "found undefined alias 'defaults'"),
    "53-port-protocol.yaml": (5, "protocol 'sctp' is not supported"),
    "54-build-missing-context.yaml": (5, "build context './api' not found"),
    "55-healthy-disabled-healthcheck.yaml": (9, "'db' has its healthcheck disabled"),
}

# Binary files are awkward in git: these are written by the test itself.
GENERATED: dict[str, tuple[bytes, int | None, str]] = {
    "binary-garbage.yaml": (bytes(range(256)) * 4, 2, "not a text file"),
    "bad-utf8.yaml": (b"services:\n  db:\n    image: caf\xe9\n", 3, "byte 0xe9 is not valid UTF-8"),
    "nul-bytes.yaml": (b"services:\n  db:\n    image: x\x00\n", 3, "control character"),
    "png-header.yaml": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "not a text file"),
}


def check(error: SpecError, name: str, line: int | None, fragment: str) -> None:
    message = str(error)
    assert "\n" not in message, message
    assert name in message, message
    assert fragment in message, message
    assert error.line == line, message
    if line is not None:
        assert f"{name}:{line}: " in message, message


def test_corpus_is_complete() -> None:
    files = {path.name for path in BAD.glob("*.yaml")}
    assert files == set(EXPECTED)
    assert len(files) >= 35


@pytest.mark.parametrize(("name", "line", "fragment"), [(n, *v) for n, v in EXPECTED.items()])
def test_bad_spec(name: str, line: int | None, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec(BAD / name, environ={})
    check(info.value, name, line, fragment)


@pytest.mark.parametrize(
    ("name", "data", "line", "fragment"), [(n, *v) for n, v in GENERATED.items()]
)
def test_generated_bad_spec(
    tmp_path: Path, name: str, data: bytes, line: int | None, fragment: str
) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path / name, environ={})
    check(info.value, name, line, fragment)
