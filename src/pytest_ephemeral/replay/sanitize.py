"""Sanitizing recorded traffic with the deterministic engine of the data layer.

The rules file is the one ``eph sanitize`` reads (see the sanitize-rules
reference); three pseudo-tables name what to change in traffic::

    version: 1
    default: keep
    tables:
      http.headers:            # header names, any case
        columns:
          x-api-key: {hash: {}}
      http.query:              # query parameter names
        columns:
          email: {fake: email}
      http.json:               # JSON field names (at any depth) or dotted paths
        columns:
          password: {fixed: "***"}
          customer.phone: {hash: {keep_format: true}}

Fields no rule names are kept. Whatever the rules say, ``Authorization``,
``Proxy-Authorization``, ``Cookie`` and ``Set-Cookie`` are hashed (the auth
scheme and cookie names stay readable: ``Bearer 5f1c...``, ``sid=9a0b...``).
Every replacement is HMAC(salt, value): the same secret always becomes the
same stand-in, in every entry and every recording made with the same salt,
so replayed requests still match each other and comparisons stay stable.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["DEFAULT_HEADERS", "HttpSanitizer"]

DEFAULT_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

ValueFn = Callable[[str], "str | None"]


class HttpSanitizer:
    """Applies header, query and JSON-field rules to HAR entries (dicts)."""

    def __init__(
        self,
        headers: Mapping[str, ValueFn],
        query: Mapping[str, ValueFn],
        json_fields: Mapping[str, ValueFn],
        default_hash: ValueFn,
    ) -> None:
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.query = dict(query)
        self.json_fields = dict(json_fields)
        self.default_hash = default_hash

    @classmethod
    def from_rules(
        cls, rules_path: Path | None, environ: Mapping[str, str] | None = None
    ) -> HttpSanitizer:
        """From a rules file (its salt resolved as ``eph sanitize`` does), or,
        without one, only the default header redaction, salted by
        ``EPH_SANITIZE_SALT`` when set (else by a random salt for this
        recording: stable within it, not across recordings)."""
        from ..data.sanitize import Hash, load_rules, resolve_salt
        from ..data.sanitize._transforms import compile_transform

        environ = os.environ if environ is None else environ
        tables: dict[str, dict[str, ValueFn]] = {"headers": {}, "query": {}, "json": {}}
        if rules_path is not None:
            rules = load_rules(rules_path)
            salt = resolve_salt(rules, environ)
            for kind in tables:
                table = rules.tables.get(f"http.{kind}")
                if table is None:
                    continue
                for name, col in table.columns.items():
                    compiled = compile_transform(col.transform, salt)
                    if compiled is not None:
                        tables[kind][name] = compiled.fn
        else:
            env_salt = environ.get("EPH_SANITIZE_SALT", "").encode()
            salt = env_salt if len(env_salt) >= 16 else secrets.token_bytes(32)
        compiled_hash = compile_transform(Hash(), salt)
        if compiled_hash is None:  # pragma: no cover - Hash always compiles
            raise RuntimeError("hash transformation did not compile")
        return cls(tables["headers"], tables["query"], tables["json"], compiled_hash.fn)

    # ---------------------------------------------------------------- values

    def _default_header(self, name: str, value: str) -> str:
        h = self.default_hash
        if name in ("authorization", "proxy-authorization"):
            scheme, sep, credentials = value.partition(" ")
            return f"{scheme} {h(credentials) or ''}" if sep else (h(value) or "")
        if name == "cookie":
            return "; ".join(_cookie(part, h) for part in value.split(";") if part.strip())
        first, sep, attributes = value.partition(";")  # set-cookie: keep the attributes
        return _cookie(first, h) + (sep + attributes if sep else "")

    def header(self, name: str, value: str) -> str:
        low = name.lower()
        fn = self.headers.get(low)
        if fn is not None:
            return fn(value) or ""
        if low in DEFAULT_HEADERS:
            return self._default_header(low, value)
        return value

    def query_pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, (self.query[k](v) or "") if k in self.query else v) for k, v in pairs]

    def url(self, url: str) -> str:
        if not self.query or "?" not in url:
            return url
        parts = urlsplit(url)
        query = urlencode(self.query_pairs(parse_qsl(parts.query, keep_blank_values=True)))
        return urlunsplit(parts._replace(query=query))

    def json_value(self, value: Any, path: str = "") -> Any:
        if not self.json_fields:
            return value
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                fn = self.json_fields.get(sub) or self.json_fields.get(str(key))
                if fn is not None and not isinstance(item, (dict, list)):
                    text = item if isinstance(item, str) else json.dumps(item)
                    replaced = fn(text)
                    out[key] = (
                        replaced
                        if isinstance(item, str) or replaced is None
                        else (_number_or_text(replaced))
                    )
                else:
                    out[key] = self.json_value(item, sub)
            return out
        if isinstance(value, list):
            return [self.json_value(item, path) for item in value]
        return value

    def text(self, text: str, mime: str) -> str:
        if not self.json_fields or not text or ("json" not in mime and text[:1] not in "{["):
            return text
        try:
            doc = json.loads(text)
        except ValueError:
            return text
        return json.dumps(self.json_value(doc), ensure_ascii=False, separators=(",", ":"))

    # ------------------------------------------------------------------ entry

    def entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Sanitize one HAR entry in place (and return it)."""
        req = entry.get("request", {})
        req["url"] = self.url(req.get("url", ""))
        req["headers"] = [
            {"name": h["name"], "value": self.header(h["name"], h.get("value", ""))}
            for h in req.get("headers", [])
        ]
        if req.get("queryString"):
            req["queryString"] = [
                {"name": k, "value": v}
                for k, v in self.query_pairs([(q["name"], q["value"]) for q in req["queryString"]])
            ]
        post = req.get("postData")
        if (
            isinstance(post, dict)
            and isinstance(post.get("text"), str)
            and not post.get("encoding")
        ):
            post["text"] = self.text(post["text"], post.get("mimeType", ""))
        resp = entry.get("response", {})
        resp["headers"] = [
            {"name": h["name"], "value": self.header(h["name"], h.get("value", ""))}
            for h in resp.get("headers", [])
        ]
        content = resp.get("content")
        if (
            isinstance(content, dict)
            and isinstance(content.get("text"), str)
            and not content.get("encoding")
        ):
            content["text"] = self.text(content["text"], content.get("mimeType", ""))
        return entry


def _cookie(part: str, h: ValueFn) -> str:
    name, sep, value = part.strip().partition("=")
    return f"{name}={h(value) or ''}" if sep else (h(name) or "")


def _number_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
