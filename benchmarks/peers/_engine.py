"""Watching the Docker engine for one suite run: which containers, networks
and volumes that run created (from the engine's event stream, so nothing
short-lived is missed), when each container was created, started, became
healthy and was removed, what is left of them afterwards, and removing it.

Used by ``run.py`` and ``../bench_workers.py``; needs the Docker SDK.

Whose resource is it? ``Ident`` decides from the labels:

- the peers' suites label everything ``eph-peers.run=<token>`` (Compose
  projects through the Compose file, testcontainers and
  pytest-docker-tools through their label arguments);
- pytest-ephemeral labels its resources with the owner process
  (``pytest-ephemeral.owner`` = host/boot/pid/start); a resource is this
  run's when its owner is in the process session of the suite that run.py
  started (``start_new_session=True``: the session id is that process's
  pid; xdist workers inherit it, the reaper starts its own). Once an
  environment id is known to be ours, everything else with that id is too.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

__all__ = ["Ident", "Left", "Watch", "api_client", "in_session"]

EPH_ENV = "pytest-ephemeral.env"
EPH_OWNER = "pytest-ephemeral.owner"
PEERS_RUN = "eph-peers.run"


def api_client() -> docker.APIClient:
    return docker.APIClient(
        base_url=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), timeout=60
    )


def in_session(pid: int, sid: int) -> bool:
    """Is process ``pid`` (still) in session ``sid``?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()
    # state ppid pgrp session ...
    return len(fields) > 3 and fields[3] == str(sid)


class Ident:
    """Decides from a resource's labels whether one suite run created it."""

    def __init__(self, *, token: str | None = None, session: int | None = None) -> None:
        self.token = token
        self.session = session
        self.env_ids: set[str] = set()  # pytest-ephemeral environments found to be ours
        self._lock = threading.Lock()

    def __call__(self, labels: Mapping[str, str]) -> bool:
        if self.token is not None and labels.get(PEERS_RUN) == self.token:
            return True
        env = labels.get(EPH_ENV)
        if env is None or self.session is None:
            return False
        with self._lock:
            if env in self.env_ids:
                return True
        parts = labels.get(EPH_OWNER, "").split("/")
        try:
            pid = int(parts[-2])
        except (IndexError, ValueError):
            return False
        if pid == self.session or in_session(pid, self.session):
            with self._lock:
                self.env_ids.add(env)
            return True
        return False

    def label_filters(self) -> list[str]:
        """Label filters that find this run's resources (for a final sweep)."""
        out = [f"{PEERS_RUN}={self.token}"] if self.token else []
        out += [f"{EPH_ENV}={e}" for e in sorted(self.env_ids)]
        return out


@dataclass
class Box:
    """One container of the run, and when things happened to it (UNIX times)."""

    id: str
    name: str
    labels: dict[str, str]
    image: str
    created: float | None = None
    started: float | None = None
    healthy: float | None = None
    died: float | None = None
    destroyed: float | None = None

    @property
    def service(self) -> str | None:
        """The service this container runs (None: not a service's container,
        e.g. an intermediate container of an image build)."""
        for key in ("pytest-ephemeral.service", "com.docker.compose.service", "eph-peers.service"):
            if key in self.labels:
                return self.labels[key]
        return None


@dataclass
class Left:
    """What is left of a run."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.volumes)

    def counts(self) -> str:
        return f"{len(self.containers)} / {len(self.networks)} / {len(self.volumes)}"


class Watch:
    """The engine's events while one suite runs. Start it before the suite."""

    def __init__(self, ident: Ident) -> None:
        self.ident = ident
        self.api = api_client()
        self._events_api = api_client()
        self.containers: dict[str, Box] = {}
        self.networks: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.first_container = threading.Event()
        self.first_container_at: float | None = None
        self.last_destroy: float | None = None
        self._lock = threading.Lock()
        self._stream: Any = None
        self._since = time.time() - 1
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eph-peers-watch", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    # -- the event stream ------------------------------------------------
    def _run(self) -> None:
        try:
            self._stream = self._events_api.events(since=self._since, decode=True)
            self._ready.set()
            for ev in self._stream:
                try:
                    self._handle(ev)
                except Exception as exc:  # one odd event must not end the watch
                    print(f"watch: {exc!r} on {ev!r}", flush=True)
        except Exception:
            pass  # the stream was closed
        finally:
            self._ready.set()

    def _labels(self, kind: str, rid: str) -> dict[str, str] | None:
        try:
            if kind == "network":
                info = self.api.inspect_network(rid)
            else:
                info = self.api.inspect_volume(rid)
        except docker.errors.APIError:
            return None
        return dict(info.get("Labels") or {})

    def _handle(self, ev: dict[str, Any]) -> None:
        kind, action = ev.get("Type"), str(ev.get("Action", ""))
        actor = ev.get("Actor") or {}
        rid = str(actor.get("ID", ""))
        attrs: dict[str, str] = dict(actor.get("Attributes") or {})
        at = int(ev.get("timeNano") or 0) / 1e9 or float(ev.get("time") or 0)
        if kind == "container":
            if action.startswith("exec_"):
                return
            with self._lock:
                box = self.containers.get(rid)
            if box is None:
                labels = {k: v for k, v in attrs.items() if k not in ("image", "name")}
                if not self.ident(labels):
                    return
                box = Box(rid, attrs.get("name", rid[:12]), labels, attrs.get("image", ""))
                with self._lock:
                    self.containers[rid] = box
            if action == "create":
                box.created = at
                if self.first_container_at is None:
                    self.first_container_at = at
                    self.first_container.set()
                self._note_mounts(rid)
            elif action == "start":
                box.started = at
            elif action.startswith("health_status") and action.endswith("healthy"):
                if not action.endswith("unhealthy") and box.healthy is None:
                    box.healthy = at
            elif action == "die":
                box.died = at
            elif action == "destroy":
                box.destroyed = at
                self.last_destroy = at
        elif kind == "network":
            if action == "create":
                labels = self._labels("network", rid)
                if labels is not None and self.ident(labels):
                    with self._lock:
                        self.networks[rid] = {"name": attrs.get("name", rid[:12]), "created": at}
            elif action == "destroy" and rid in self.networks:
                self.networks[rid]["destroyed"] = at
                self.last_destroy = at
        elif kind == "volume":
            if action == "create":
                labels = self._labels("volume", rid)
                if labels and self.ident(labels):
                    with self._lock:
                        self.volumes.setdefault(rid, {"created": at})
            elif action == "mount" and attrs.get("container") in self.containers:
                with self._lock:
                    self.volumes.setdefault(rid, {"created": at})
            elif action == "destroy" and rid in self.volumes:
                self.volumes[rid]["destroyed"] = at
                self.last_destroy = at

    def _note_mounts(self, cid: str) -> None:
        """Anonymous volumes (an image's VOLUME) exist from the container's
        create on, even if it never starts: note them now."""
        with contextlib.suppress(docker.errors.APIError):
            for m in self.api.inspect_container(cid).get("Mounts") or []:
                if m.get("Type") == "volume" and m.get("Name"):
                    with self._lock:
                        self.volumes.setdefault(str(m["Name"]), {"created": None})

    def stop(self) -> None:
        time.sleep(0.3)  # let the last events arrive
        stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()
        self._thread.join(5)
        with contextlib.suppress(Exception):
            self._events_api.close()

    # -- what is left ---------------------------------------------------------
    def left(self) -> Left:
        """Everything of this run that still exists on the engine."""
        api = self.api
        found = Left()
        cids = set(self.containers)
        nids = set(self.networks)
        vols = set(self.volumes)
        for flt in self.ident.label_filters():
            filters = {"label": [flt]}
            with contextlib.suppress(docker.errors.APIError):
                cids |= {c["Id"] for c in api.containers(all=True, filters=filters)}
                nids |= {n["Id"] for n in api.networks(filters=filters)}
                vols |= {v["Name"] for v in api.volumes(filters=filters).get("Volumes") or []}
        for cid in sorted(cids):
            try:
                info = api.inspect_container(cid)
            except docker.errors.NotFound:
                continue
            found.containers.append(str(info["Name"]).lstrip("/"))
            for m in info.get("Mounts") or []:
                if m.get("Type") == "volume" and m.get("Name"):
                    vols.add(str(m["Name"]))
        for nid in sorted(nids):
            try:
                found.networks.append(str(api.inspect_network(nid)["Name"]))
            except docker.errors.NotFound:
                continue
        for name in sorted(vols):
            try:
                api.inspect_volume(name)
            except docker.errors.NotFound:
                continue
            found.volumes.append(name)
        return found

    def remove_left(self) -> Left:
        """Remove what is left; returns what was there."""
        left = self.left()
        api = self.api
        for name in left.containers:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(name, force=True, v=True)
        for name in left.networks:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_network(name)
        for name in left.volumes:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_volume(name, force=True)
        return left

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()
