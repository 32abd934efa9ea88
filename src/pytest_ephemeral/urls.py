"""Connection URLs for service kinds we recognise (PostgreSQL, Redis, HTTP),
with secrets redacted: they are printed in summaries and ``eph`` output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .spec.model import ServiceSpec

__all__ = ["REDACTED", "connection_url", "connection_urls"]

REDACTED = "***"


def connection_url(svc: ServiceSpec, host: str, ports: Mapping[str, int]) -> str | None:
    image = (svc.image or "").lower()
    env = svc.environment
    if "postgres" in image or ("5432/tcp" in ports and "postgres" in svc.name):
        port = ports.get("5432/tcp")
        if port is None:
            return None
        user = env.get("POSTGRES_USER", "postgres")
        db = env.get("POSTGRES_DB", user)
        password = f":{REDACTED}" if env.get("POSTGRES_PASSWORD") else ""
        return f"postgresql://{user}{password}@{host}:{port}/{db}"
    if "redis" in image and "6379/tcp" in ports:
        return f"redis://{host}:{ports['6379/tcp']}/0"
    for wait in svc.waits:
        if wait.kind == "http" and f"{wait.port}/tcp" in ports:
            return f"http://{host}:{ports[f'{wait.port}/tcp']}/"
    return None


def connection_urls(summary: Mapping[str, Any]) -> dict[str, str]:
    return {name: svc["url"] for name, svc in summary.get("services", {}).items() if svc.get("url")}
