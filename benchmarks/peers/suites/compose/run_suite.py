"""docker-compose by hand, the way a CI job's script does it:

    docker-compose -p P -f docker-compose.yml up -d   # waits for db healthy
    # wait until the api answers GET /health with 200 (every 0.1 s)
    pytest ...                                          # addresses in the environment
    docker-compose -p P -f docker-compose.yml down -v   # also after a failure or Ctrl-C

Written in Python rather than sh only to time each step; ``down -v`` runs in
a ``finally`` (a shell script's ``trap ... EXIT``). The host ports are looked
up with the Docker SDK once (cheaper than three ``docker-compose port``
calls, each a Python program starting). Extra arguments go to pytest.

Environment: EPH_PEERS_RUN (labels, project name), EPH_PEERS_TIMING (a
folder: this driver writes compose-driver.json there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker

HERE = Path(__file__).resolve().parent
RUN = os.environ.get("EPH_PEERS_RUN", "manual")
PROJECT = f"ephpeers{RUN}compose{os.getpid()}"
COMPOSE = ["docker-compose", "-p", PROJECT, "-f", str(HERE / "docker-compose.yml")]
PORTS = {"db": 5432, "cache": 6379, "api": 8000}


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def addresses() -> dict[str, str]:
    client = docker.from_env()
    try:
        found = {}
        flt = {"label": [f"com.docker.compose.project={PROJECT}"]}
        for c in client.api.containers(filters=flt):
            service = c["Labels"]["com.docker.compose.service"]
            for p in c["Ports"]:
                if p.get("PrivatePort") == PORTS.get(service) and p.get("PublicPort"):
                    found[service] = f"{p['IP']}:{p['PublicPort']}"
        return found
    finally:
        client.close()


def main(argv: list[str]) -> int:
    times: dict[str, float] = {"start": time.time()}
    rc = 1
    try:
        subprocess.run([*COMPOSE, "up", "-d"], check=True)
        times["compose_up"] = time.time()
        found = addresses()
        deadline = time.monotonic() + 30
        while not healthy(f"http://{found['api']}/health"):
            if time.monotonic() > deadline:
                raise SystemExit("api never answered /health with 200")
            time.sleep(0.1)
        times["ready"] = time.time()
        env = {**os.environ, **{f"EPH_PEERS_{s.upper()}": a for s, a in found.items()}}
        rc = subprocess.call([sys.executable, "-m", "pytest", *argv], cwd=HERE, env=env)
        times["tests_done"] = time.time()
    finally:
        times["down_start"] = time.time()
        subprocess.run([*COMPOSE, "down", "-v"], check=False)
        times["end"] = time.time()
        folder = os.environ.get("EPH_PEERS_TIMING")
        if folder:
            (Path(folder) / "compose-driver.json").write_text(json.dumps(times), encoding="utf-8")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
