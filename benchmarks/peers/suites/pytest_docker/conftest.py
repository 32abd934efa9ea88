"""pytest-docker (avast/pytest-docker) as its README shows it, with Debian's
docker-compose v1: the plugin's fixtures overridden for the Compose command,
the file, the project name and the setup command; readiness by
``docker_services.wait_until_responsive`` on the api's /health.

- ``docker_compose_command``: ``docker-compose`` (the README's "Docker Compose
  V1 compatibility"); there is no ``docker compose`` v2 here.
- ``docker_setup``: the plugin's default is ``up --build --wait``; v1 has no
  ``--wait``, so ``up --build -d``. v1 still waits for the ``depends_on``
  conditions (db healthy) before it starts api; the wait below covers api.
- ``docker_compose_project_name``: the plugin's default (``pytest<pid>``, one
  project per process, so per xdist worker) with a prefix the benchmark's
  cleanup recognises.
- Teardown is the plugin's default, ``down -v``.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pytest_docker import Services

COMPOSE_FILE = Path(__file__).resolve().parent.parent / "compose" / "docker-compose.yml"
RUN = os.environ.get("EPH_PEERS_RUN", "manual")


@pytest.fixture(scope="session")
def docker_compose_command() -> str:
    return "docker-compose"


@pytest.fixture(scope="session")
def docker_compose_file() -> str:
    return str(COMPOSE_FILE)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"ephpeers{RUN}pytest{os.getpid()}"


@pytest.fixture(scope="session")
def docker_setup() -> list[str]:
    return ["up --build -d"]


def is_responsive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def api_url(docker_ip: str, docker_services: Services) -> str:
    url = f"http://{docker_ip}:{docker_services.port_for('api', 8000)}"
    docker_services.wait_until_responsive(
        timeout=30.0, pause=0.1, check=lambda: is_responsive(f"{url}/health")
    )
    return url


@pytest.fixture(scope="session")
def dsn(docker_ip: str, docker_services: Services) -> str:
    # `up` returned after db's healthcheck passed (depends_on: service_healthy)
    return f"postgresql://postgres:secret@{docker_ip}:{docker_services.port_for('db', 5432)}/shop"


@pytest.fixture(scope="session")
def cache_address(docker_ip: str, docker_services: Services) -> tuple[str, int]:
    return docker_ip, docker_services.port_for("cache", 6379)
