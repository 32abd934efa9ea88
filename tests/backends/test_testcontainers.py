"""Services from testcontainers-python modules (DESIGN §12): the module's own
configuration and wait logic, on the environment's network under the service
name, with the plugin's labels, published on 127.0.0.1, ordered by
depends_on, removed like any other service — also under xdist."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

PORT_AWARE = '''
"""A module whose configuration depends on the port it is published on, as
Kafka's advertised listener does: known only after start."""
import time
import urllib.request

from testcontainers.core.container import DockerContainer


class AdvertisedContainer(DockerContainer):
    def __init__(self, image="python:3.12-slim", **kwargs):
        super().__init__(image, **kwargs)
        self.with_exposed_ports(8000)
        self.with_command(["sh", "-c",
            "mkdir -p /srv; while [ ! -f /srv/advertised ]; do sleep 0.05; done; "
            "cd /srv && exec python3 -m http.server 8000"])

    def start(self):
        super().start()
        url = f"http://{self.get_container_host_ip()}:{self.get_exposed_port(8000)}/"
        self.exec(["sh", "-c", f"echo {url} > /srv/advertised"])
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "advertised", timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"{url} never answered")
'''

SPEC = """
services:
  cache:
    testcontainers:
      class: testcontainers.community.redis:RedisContainer
      image: redis:7-alpine
  db:
    testcontainers:
      class: testcontainers.community.postgres:PostgresContainer
      image: postgres:16-alpine
      args: {username: shop, password: secret, dbname: shop}
  web:
    testcontainers:
      class: portaware:AdvertisedContainer
  client:
    image: python:3.12-slim
    depends_on:
      cache: {condition: service_started}
    command: ["sleep", "600"]
    wait: {command: ["true"]}
"""

TESTS = """
import json
import subprocess
import urllib.request


def test_modules_are_services(eph):
    cache, db, web = eph["cache"], eph["db"], eph["web"]
    # the started module objects, with their own client helpers
    assert cache.container.get_client().ping()
    assert cache.container.get_exposed_port(6379) == cache.port(6379)
    assert db.container.get_connection_url().startswith("postgresql")
    code, out = db.exec(["psql", "-U", "shop", "-d", "shop", "-tAc", "select 41 + 1"])
    assert (code, out.strip()) == (0, "42")
    # configured from the published port, as Kafka's listener is
    advertised = urllib.request.urlopen(f"http://127.0.0.1:{web.port(8000)}/advertised").read()
    assert advertised.decode().strip() == f"http://127.0.0.1:{web.port(8000)}/"
    # reached by service name on the environment's network
    probe = "import socket; s = socket.create_connection(('cache', 6379)); s.sendall(b'PING\\\\r\\\\n'); print(s.recv(16))"
    code, out = eph["client"].exec(["python3", "-c", probe])
    assert code == 0 and "PONG" in out, out
    for svc in (cache, db, web):
        info = json.loads(subprocess.run(["docker", "inspect", svc.container_id], capture_output=True, check=True).stdout)[0]
        assert info["Config"]["Labels"]["pytest-ephemeral.env"] == eph.id
        bindings = [b["HostIp"] for bs in info["HostConfig"]["PortBindings"].values() for b in bs]
        assert bindings and set(bindings) == {"127.0.0.1"}, bindings
"""


def _project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", ephemeral=textwrap.dedent(SPEC))
    pytester.makepyfile(portaware=PORT_AWARE, test_modules=TESTS)


@pytest.mark.docker
def test_testcontainers_modules_as_services(pytester: pytest.Pytester, docker_client: Any) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=1)
    left = docker_client.api.containers(
        all=True, filters={"label": ["pytest-ephemeral.name=" + pytester.path.name]}
    )
    assert left == []  # removed at the end like any service


@pytest.mark.docker
def test_testcontainers_modules_under_xdist(pytester: pytest.Pytester, docker_client: Any) -> None:
    _project(pytester)
    pytester.makepyfile(
        test_more=TESTS.replace("test_modules_are_services", "test_again"),
    )
    result = pytester.runpytest_subprocess(
        "-n", "2", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning"
    )
    result.assert_outcomes(passed=2)


def test_a_class_that_cannot_be_imported_names_the_service(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        ephemeral="services:\n  q:\n    testcontainers: {class: 'testcontainers.nosuch:Thing'}\n",
    )
    pytester.makepyfile("def test_q(eph): pass")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*service 'q'*cannot import testcontainers module 'testcontainers.nosuch'*"]
    )
    assert "Traceback" not in result.stdout.str()
    # shown once, not a second time through the exception's context
    assert "During handling of the above exception" not in result.stdout.str()
