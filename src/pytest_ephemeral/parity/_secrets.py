from __future__ import annotations

__all__ = ["looks_secret", "shown_value"]


def looks_secret(name: str) -> bool:
    """Whether a variable called ``name`` probably holds a secret (the spec's rule)."""
    from ..spec import is_secret_name

    return bool(is_secret_name(name))


def shown_value(name: str, value: str) -> str:
    """``value`` fit to print (passwords inside URLs hidden)."""
    from ..spec import redact

    return str(redact(name, value))
