"""Names and labels as Kubernetes accepts them (DNS-1123 / RFC 1035 labels,
label values of at most 63 characters)."""

from __future__ import annotations

import re

__all__ = ["is_dns_label", "label_value", "namespace_name", "suggest_label"]

_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def is_dns_label(name: str) -> bool:
    """A valid Service name: RFC 1035 label (lowercase, digits, '-', starts with a letter)."""
    return _DNS_LABEL.fullmatch(name) is not None


def suggest_label(name: str) -> str:
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    if not text or not text[0].isalpha():
        text = f"s-{text}".rstrip("-")
    return text[:63].rstrip("-")


def namespace_name(env_id: str) -> str:
    """The namespace of environment ``env_id``: ``eph-<id>``, a DNS-1123 label."""
    text = re.sub(r"[^a-z0-9-]+", "-", env_id.lower()).strip("-")
    return f"eph-{text}"[:63].rstrip("-")


def label_value(text: str) -> str:
    """``text`` as a label value (at most 63 characters, alphanumeric at both ends)."""
    if _LABEL_VALUE.fullmatch(text) and len(text) <= 63:
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
