"""The team's corpus of Compose files (``compose_corpus/``), written the way public
projects write them (web stacks, monitoring, self-hosted apps): each one loads as a
spec, or is refused with the one-line reason the table below names.

``compose_corpus/measure.py`` counts the share accepted, for docs/benchmarks.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from pytest_ephemeral.errors import SpecError
from pytest_ephemeral.spec import load_spec, render_topology

CORPUS = Path(__file__).parent / "compose_corpus"

# file -> None (accepted) or (line, fragment of the refusal)
EXPECTED: dict[str, tuple[int, str] | None] = {
    "01-wordpress-mysql.yaml": None,
    "02-django-postgres-redis.yaml": None,
    "03-rails-anchors-links.yaml": None,
    "04-prometheus-grafana.yaml": (
        34,
        "services.node-exporter.pid: Compose key 'pid' is not supported here",
    ),
    "05-elasticsearch-kibana.yaml": None,
    "06-traefik-whoami.yaml": None,
    "07-nextcloud-secrets.yaml": None,
    "08-gitea.yaml": None,
    "09-keycloak.yaml": None,
    "10-kafka-zookeeper.yaml": None,
    "11-minio.yaml": None,
    "12-mongo-express.yaml": None,
    "13-rabbitmq.yaml": None,
    "14-loki-promtail.yaml": None,
    "15-extends-other-file.yaml": None,
    "16-swarm-stack.yaml": None,
    "17-external-proxy-network.yaml": None,
    "18-include.yaml": None,
    "19-profiles.yaml": None,
    "20-ftp-port-range.yaml": None,
    "21-healthcheck-disable.yaml": None,
    "22-runtime-limits.yaml": None,
    "23-develop-watch.yaml": None,
    "24-configs-inline.yaml": None,
    "25-override-reset.yaml": None,
    "26-mailhog-logging.yaml": None,
    "27-ollama-gpu.yaml": (
        11,
        "deploy.resources.reservations.devices: Compose key 'devices' is not supported here",
    ),
    "28-home-assistant.yaml": (
        11,
        "services.homeassistant.network_mode: Compose key 'network_mode' is not supported here",
    ),
    "29-offline-stack.yaml": None,
}


def corpus() -> list[Path]:
    return sorted(CORPUS.glob("[0-9][0-9]-*.yaml"))


def test_the_table_covers_the_corpus() -> None:
    assert [p.name for p in corpus()] == sorted(EXPECTED)
    assert len(EXPECTED) >= 20


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file(name: str) -> None:
    path = CORPUS / name
    expected = EXPECTED[name]
    if expected is not None:
        line, fragment = expected
        with pytest.raises(SpecError) as info:
            load_spec(path, environ={})
        message = str(info.value)
        assert "\n" not in message and name in message and fragment in message, message
        assert info.value.line == line, message
        return
    spec = load_spec(path, environ={})
    assert spec.services
    assert render_topology(spec).startswith("spec ")
    # once per key and file: no key is warned twice for one file
    counts = Counter((d.key, d.file) for d in spec.diagnostics)
    assert max(counts.values(), default=1) == 1, spec.warnings
    assert all("\n" not in w for w in spec.warnings)


def test_what_the_corpus_resolves_to() -> None:
    """A few translations, checked where the corpus uses them."""
    wordpress = load_spec(CORPUS / "01-wordpress-mysql.yaml", environ={})
    assert wordpress.services["db"].aliases == ("wordpress-db",)
    assert wordpress.services["wordpress"].environment["WORDPRESS_DB_PASSWORD"] == "wp-secret"
    rails = load_spec(CORPUS / "03-rails-anchors-links.yaml", environ={})
    assert rails.services["postgres"].aliases == ("database",)
    assert [d.service for d in rails.services["rails"].depends_on] == ["postgres", "redis"]
    nextcloud = load_spec(CORPUS / "07-nextcloud-secrets.yaml", environ={})
    (secret,) = nextcloud.services["db"].secrets
    assert secret.target == "/run/secrets/db_password" and secret.file is not None
    stack = load_spec(CORPUS / "16-swarm-stack.yaml", environ={})
    web = stack.services["web"]
    assert web.replicas == 3 and web.cpus == 0.5 and web.resources.memory_reserved == 64 * 2**20
    ftp = load_spec(CORPUS / "20-ftp-port-range.yaml", environ={})
    assert len(ftp.services["ftp"].ports) == 13
    (fixed,) = [d for d in ftp.diagnostics if d.key == "ports.published"]
    assert fixed.count == 2  # two entries written, thirteen ports
    included = load_spec(CORPUS / "18-include.yaml", environ={})
    assert included.services["postgres"].image == "postgres:16-alpine"
    assert included.volumes == ("pgdata",)
    extended = load_spec(CORPUS / "15-extends-other-file.yaml", environ={})
    assert extended.services["scheduler"].environment["LOG_LEVEL"] == "debug"
    assert extended.services["api"].build is not None
    assert extended.services["api"].build.context == CORPUS / "app"


def test_the_offline_stack_for_a_real_start() -> None:
    spec = load_spec(CORPUS / "29-offline-stack.yaml", environ={})
    db, check = spec.services["db"], spec.services["check"]
    assert db.aliases == ("stack-db", "database")
    assert db.resources.memory == 256 * 2**20 and db.resources.pids == 200
    assert db.engine.shm_size == 128 * 2**20 and db.engine.ulimits["nofile"] == (20000, 20000)
    assert [d.service for d in check.depends_on] == ["db", "cache"]
    (config,) = check.configs
    assert (config.target, config.content) == ("/etc/app.conf", "greeting=hello\n")
    assert check.secrets[0].file == CORPUS / "secrets" / "db_password.txt"
    assert {s.image for s in spec.services.values()} == {
        "postgres:16-alpine",
        "redis:7-alpine",
        "python:3.12-slim",
    }


class _ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, plus Compose's !reset and !override tags."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_ComposeLoader.add_constructor("!reset", _tagged)
_ComposeLoader.add_constructor("!override", _tagged)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_is_valid_compose(name: str) -> None:
    """Every file of the corpus is valid Compose (compose-spec's schema), so a
    refusal above is a decision, never a file Compose would refuse anyway."""
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parent / "data" / "compose-spec.json").read_text("utf-8"))
    document = yaml.load((CORPUS / name).read_text("utf-8"), Loader=_ComposeLoader)
    jsonschema.Draft7Validator(schema).validate(document)
