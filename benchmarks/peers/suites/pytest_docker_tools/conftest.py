"""pytest-docker-tools the way its README shows: module-level fixture
factories (``network``, ``image``/``image_or_build``, ``container``) wired
together by ``{fixture.attribute}`` templates, session scope for the
containers, a ``wrapper_class`` for a readiness check of one's own.

- Images: ``fetch`` always pulls (``docker_client.images.pull``), which a
  machine without a registry cannot do; ``image`` takes a local image as it
  is, and ``image_or_build`` builds the api (or, with the environment
  variable set, takes that local image instead).
- Readiness is the plugin's own (the container runs, has an IP, and every
  published TCP port is LISTENing inside it; checked once a second). For db
  that means the real server (PostgreSQL's init phase listens on no TCP
  port); api must also answer /health with 200.
- Dependencies are fixture references: api gets db's and cache's addresses
  on the network (``{db.ips.primary}``), so it starts after both are ready.
- Ports are published on 127.0.0.1 only; everything carries the benchmark's
  labels.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pytest_docker_tools import container, image, image_or_build, network, wrappers

API_CONTEXT = Path(__file__).resolve().parents[4] / "examples" / "quickstart" / "api"
RUN = os.environ.get("EPH_PEERS_RUN", "manual")


def labels(service: str | None = None) -> dict[str, str]:
    out = {"eph-peers": "1", "eph-peers.run": RUN}
    if service:
        out["eph-peers.service"] = service  # only for the benchmark's timeline
    return out


class Api(wrappers.Container):  # type: ignore[misc]
    def ready(self) -> bool:
        if not super().ready():
            return False
        port = self.ports["8000/tcp"][0]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False


backend = network(labels=labels(), scope="session")
postgres_image = image(name="postgres:16-alpine")
redis_image = image(name="redis:7-alpine")
api_image = image_or_build(
    "EPH_PEERS_API_IMAGE", path=str(API_CONTEXT), tag="eph-peers/pdt-api:latest", labels=labels()
)

db = container(
    image="{postgres_image.id}",
    environment={"POSTGRES_PASSWORD": "secret", "POSTGRES_DB": "shop"},
    network="{backend.name}",
    ports={"5432/tcp": ("127.0.0.1",)},
    tmpfs={"/var/lib/postgresql/data": ""},
    labels=labels("db"),
    scope="session",
)
cache = container(
    image="{redis_image.id}",
    network="{backend.name}",
    ports={"6379/tcp": ("127.0.0.1",)},
    labels=labels("cache"),
    scope="session",
)
api = container(
    image="{api_image.id}",
    environment={"DB_HOST": "{db.ips.primary}", "REDIS_HOST": "{cache.ips.primary}"},
    network="{backend.name}",
    ports={"8000/tcp": ("127.0.0.1",)},
    labels=labels("api"),
    scope="session",
    wrapper_class=Api,
)


@pytest.fixture(scope="session")
def dsn(db: wrappers.Container) -> str:
    return f"postgresql://postgres:secret@127.0.0.1:{db.ports['5432/tcp'][0]}/shop"


@pytest.fixture(scope="session")
def cache_address(cache: wrappers.Container) -> tuple[str, int]:
    return "127.0.0.1", cache.ports["6379/tcp"][0]


@pytest.fixture(scope="session")
def api_url(api: wrappers.Container) -> str:
    return f"http://127.0.0.1:{api.ports['8000/tcp'][0]}"
