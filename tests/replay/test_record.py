"""``eph record`` against a real environment: the proxy container on its
network, HAR written and sanitized, removed with the environment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.lifecycle import labels as L
from pytest_ephemeral.replay import iter_capture
from pytest_ephemeral.replay.record import RECORDER

from ..conftest import labelled
from .conftest import har_entry, write_har

SPEC = """
name: rec
services:
  web:
    image: python:3.12-slim
    command: ["python3", "-m", "http.server", "8000"]
    ports: [8000]
    wait: {port: 8000}
"""
EPH = [sys.executable, "-c", "import sys; from pytest_ephemeral.cli import main; sys.exit(main())"]


def eph(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EPH, *args], capture_output=True, text=True, timeout=timeout)


def get(url: str, **headers: str) -> int:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.read()
        exc.close()
        return int(exc.code)


def start_record(env_id: str, output: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*EPH, "record", env_id, "web:8000", "--output", str(output), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "recording web:8000" not in line:
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"eph record did not start: {line!r} {err}")
    return proc, line.split(" at ")[1].split()[0]


@pytest.mark.docker
def test_record_writes_sanitized_har(tmp_path: Path, docker_client: Any) -> None:
    spec = tmp_path / "ephemeral.yaml"
    spec.write_text(SPEC)
    up = eph("up", "-f", str(spec), "--ttl", "15m", "--json")
    assert up.returncode == 0, up.stderr
    env_id = json.loads(up.stdout)["id"]
    try:
        har = tmp_path / "traffic.har.gz"
        proc, address = start_record(env_id, har, "--count", "3")
        assert address.startswith("http://127.0.0.1:")
        # the proxy is a container of the environment (its label), on 127.0.0.1
        running = labelled(docker_client, f"{L.ENV}={env_id}")
        assert any(name.startswith("container eph-record-") for name in running)
        statuses = [
            get(f"{address}/", Authorization="Bearer hunter2", Cookie="sid=hunter2"),
            get(f"{address}/?page=2", Authorization="Bearer hunter2"),
            get(f"{address}/missing"),
        ]
        assert statuses == [200, 200, 404]
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "3 entries written to" in out
        reqs = list(iter_capture(har))
        assert [(r.method, r.target) for r in reqs] == [
            ("GET", "/"),
            ("GET", "/?page=2"),
            ("GET", "/missing"),
        ]
        assert [r.response.status for r in reqs if r.response] == [200, 200, 404]
        assert b"Directory listing" in (reqs[0].response.body if reqs[0].response else b"")
        auth = [dict(r.headers).get("Authorization") for r in reqs]
        assert auth[0] == auth[1] and auth[0] is not None and auth[0].startswith("Bearer ")
        assert "hunter2" not in har.read_bytes().decode("latin-1")  # gzip: check the text too
        assert "hunter2" not in str([r.headers for r in reqs])
        # the recorder is gone once eph record ends
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and labelled(docker_client, RECORDER):
            time.sleep(0.2)
        assert not [n for n in labelled(docker_client, f"{L.ENV}={env_id}") if "eph-record-" in n]

        # eph replay against the environment's own port: unsafe methods are sent
        # (it is a throwaway environment), no --include-unsafe needed
        web = json.loads(up.stdout)["services"]["web"]
        port = next(iter(web["ports"].values()))
        unsafe = write_har(
            tmp_path / "unsafe.har",
            [har_entry("GET", "http://x/"), har_entry("POST", "http://x/form", body="{}")],
        )
        rep = subprocess.run(
            [*EPH, "replay", str(unsafe), "--target", f"http://127.0.0.1:{port}", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rep.returncode == 0, rep.stderr
        doc = json.loads(rep.stdout)
        assert (doc["sent"], doc["skipped_unsafe"]) == (2, 0)
        assert doc["errors"] == {"5xx": 1}  # http.server answers POST with 501

        # removing the environment removes a running recorder too, and eph record ends
        proc2, address2 = start_record(env_id, tmp_path / "second.har")
        assert get(f"{address2}/") == 200
        down = eph("down", env_id)
        assert down.returncode == 0, down.stderr
        _out2, err2 = proc2.communicate(timeout=30)
        assert proc2.returncode == 1 and "the recorder" in err2 and err2.count("\n") == 1
        assert [r.target for r in iter_capture(tmp_path / "second.har")] == ["/"]
        assert labelled(docker_client, f"{L.ENV}={env_id}") == []
    finally:
        eph("down", env_id)


@pytest.mark.docker
def test_record_bad_input(tmp_path: Path) -> None:
    r = eph("record", "no-such-env", "web:8000", "--output", str(tmp_path / "x.har"))
    assert r.returncode == 2
    assert r.stderr.startswith("eph record: error: no environment 'no-such-env' on the engine")
    assert r.stderr.count("\n") == 1
    r = eph("record", "x", "web", "--output", str(tmp_path / "x.har"))
    assert r.returncode == 2 and "'web' is not SERVICE:PORT" in r.stderr
