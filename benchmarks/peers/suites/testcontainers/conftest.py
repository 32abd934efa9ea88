"""testcontainers-python the usual way: one session fixture per container,
each a ``with`` block that starts the container, waits with its wait strategy
(default poll interval) and removes it at the end; the api image built with
``DockerImage``. Fixtures start one after another, as pytest resolves them.

Two deviations from the docs' examples, both for this machine: ports are
published on 127.0.0.1 only (testcontainers has no option for that, so the
port map it hands to docker-py is rewritten), and every resource carries the
benchmark's labels for its cleanup. The environment (set by run.py) disables
Ryuk (its image cannot be pulled here) and points testcontainers at
127.0.0.1 (``/.dockerenv`` would mislead it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.container import DockerContainer
from testcontainers.core.image import DockerImage
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import HttpWaitStrategy, LogMessageWaitStrategy

API_CONTEXT = Path(__file__).resolve().parents[4] / "examples" / "quickstart" / "api"
RUN = os.environ.get("EPH_PEERS_RUN", "manual")
LABELS = {"eph-peers": "1", "eph-peers.run": RUN}


def labels(service: str) -> dict[str, str]:
    return {**LABELS, "eph-peers.service": service}  # only for the benchmark's timeline


C = TypeVar("C", bound=DockerContainer)


def on_loopback(container: C) -> C:
    container.ports = {port: ("127.0.0.1", host) for port, host in container.ports.items()}  # type: ignore[misc]
    return container


@pytest.fixture(scope="session")
def network() -> Iterator[Network]:
    with Network(docker_network_kw={"labels": LABELS}) as net:
        yield net


@pytest.fixture(scope="session")
def postgres(network: Network) -> Iterator[PostgresContainer]:
    container = (
        PostgresContainer(
            "postgres:16-alpine", username="postgres", password="secret", dbname="shop", driver=None
        )
        .with_network(network)
        .with_network_aliases("db")
        .with_tmpfs_mount("/var/lib/postgresql/data")
        .with_kwargs(labels=labels("db"))
    )
    with on_loopback(container) as pg:
        yield pg


@pytest.fixture(scope="session")
def redis(network: Network) -> Iterator[DockerContainer]:
    container = (
        DockerContainer("redis:7-alpine")
        .with_exposed_ports(6379)
        .with_network(network)
        .with_network_aliases("cache")
        .with_kwargs(labels=labels("cache"))
        .waiting_for(LogMessageWaitStrategy("Ready to accept connections"))
    )
    with on_loopback(container) as started:
        yield started


@pytest.fixture(scope="session")
def api_image() -> Iterator[DockerImage]:
    # labelled: DockerImage removes its image by id at the end, and an
    # unlabelled build of this context has the id of other tags of it
    with DockerImage(path=API_CONTEXT, tag=f"eph-peers/tc-api:{RUN}", labels=LABELS) as image:
        yield image


@pytest.fixture(scope="session")
def api(
    network: Network, postgres: PostgresContainer, redis: DockerContainer, api_image: DockerImage
) -> Iterator[DockerContainer]:
    container = (
        DockerContainer(str(api_image))
        .with_env("DB_HOST", "db")
        .with_env("REDIS_HOST", "cache")
        .with_exposed_ports(8000)
        .with_network(network)
        .with_network_aliases("api")
        .with_kwargs(labels=labels("api"))
        .waiting_for(HttpWaitStrategy(8000, "/health").for_status_code(200))
    )
    with on_loopback(container) as started:
        yield started


@pytest.fixture(scope="session")
def dsn(postgres: PostgresContainer) -> str:
    return postgres.get_connection_url()


@pytest.fixture(scope="session")
def cache_address(redis: DockerContainer) -> tuple[str, int]:
    return redis.get_container_host_ip(), int(redis.get_exposed_port(6379))


@pytest.fixture(scope="session")
def api_url(api: DockerContainer) -> str:
    return f"http://{api.get_container_host_ip()}:{api.get_exposed_port(8000)}"
