"""Odd manifests and Compose files give a report or one ParityError, never
another exception (no traceback reaches the user)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ephemeral.parity import ParityError, load_production

DEPLOYMENT: dict[str, Any] = yaml.safe_load(
    """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: api}}
    spec:
      volumes: [{name: data, emptyDir: {}}]
      containers:
        - name: api
          image: api:1
          ports: [{containerPort: 80, name: http}]
          env: [{name: A, value: x}, {name: B, valueFrom: {configMapKeyRef: {name: c, key: k}}}]
          envFrom: [{configMapRef: {name: c}}]
          readinessProbe: {httpGet: {port: http, path: /}}
          resources: {limits: {cpu: 1, memory: 1Gi}}
          volumeMounts: [{name: data, mountPath: /data}]
"""
)
COMPOSE: dict[str, Any] = yaml.safe_load(
    """
services:
  api:
    image: api:1
    environment: [A=x]
    ports: ["80"]
    deploy: {replicas: 2, resources: {limits: {cpus: "1"}}}
    healthcheck: {test: ["CMD", "true"]}
    volumes: [data:/data]
"""
)
PATHS = [
    ("spec",),
    ("spec", "template"),
    ("spec", "template", "metadata", "labels"),
    ("spec", "template", "spec"),
    ("spec", "template", "spec", "volumes"),
    ("spec", "template", "spec", "containers"),
    ("metadata",),
    ("spec", "replicas"),
]
CONTAINER_KEYS = [
    "image",
    "ports",
    "env",
    "envFrom",
    "readinessProbe",
    "resources",
    "volumeMounts",
    "name",
]
COMPOSE_KEYS = [
    "image",
    "environment",
    "ports",
    "deploy",
    "healthcheck",
    "volumes",
    "env_file",
    "tmpfs",
    "secrets",
    "expose",
]

junk = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _set(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        node = node[key]
    if isinstance(node, dict):
        node[path[-1]] = value


def _check(tmp_path: Path, document: object) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_production([path])
    except ParityError as exc:
        assert "\n" not in str(exc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.sampled_from(PATHS), value=junk)
def test_odd_kubernetes_structure(tmp_path: Path, where: tuple[str, ...], value: object) -> None:
    doc = copy.deepcopy(DEPLOYMENT)
    _set(doc, where, value)
    _check(tmp_path, doc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(CONTAINER_KEYS), value=junk)
def test_odd_container_fields(tmp_path: Path, key: str, value: object) -> None:
    doc = copy.deepcopy(DEPLOYMENT)
    doc["spec"]["template"]["spec"]["containers"][0][key] = value
    _check(tmp_path, doc)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(COMPOSE_KEYS), value=junk)
def test_odd_compose_fields(tmp_path: Path, key: str, value: object) -> None:
    doc = copy.deepcopy(COMPOSE)
    doc["services"]["api"][key] = value
    _check(tmp_path, doc)
