"""Sanitizing recorded traffic: deterministic, by the data layer's engine."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pytest_ephemeral.replay.sanitize import HttpSanitizer

SALT = {"EPH_SANITIZE_SALT": "0123456789abcdef0123456789abcdef"}


def entry(token: str, email: str) -> dict[str, Any]:
    return {
        "request": {
            "method": "POST",
            "url": f"http://api:8000/login?email={email}&page=2",
            "headers": [
                {"name": "Authorization", "value": f"Bearer {token}"},
                {"name": "Cookie", "value": f"sid={token}; theme=dark"},
                {"name": "X-Api-Key", "value": token},
                {"name": "Accept", "value": "application/json"},
            ],
            "queryString": [{"name": "email", "value": email}, {"name": "page", "value": "2"}],
            "postData": {
                "mimeType": "application/json",
                "text": f'{{"user": {{"email": "{email}", "age": 41}}, "password": "{token}"}}',
            },
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Set-Cookie", "value": f"sid={token}; Path=/; HttpOnly"}],
            "content": {
                "mimeType": "application/json",
                "text": f'{{"token": "{token}", "ok": true}}',
            },
        },
    }


def test_default_redaction_is_deterministic() -> None:
    s = HttpSanitizer.from_rules(None, SALT)
    a = s.entry(entry("hunter2", "ann@example.com"))
    b = s.entry(entry("hunter2", "bob@example.com"))
    c = s.entry(entry("other", "ann@example.com"))
    hdr = {h["name"]: h["value"] for h in a["request"]["headers"]}
    assert "hunter2" not in hdr["Authorization"] and hdr["Authorization"].startswith("Bearer ")
    assert hdr["Cookie"].startswith("sid=") and "; theme=" in hdr["Cookie"]
    assert hdr["X-Api-Key"] == "hunter2"  # not named by a rule, not a default header
    assert hdr["Accept"] == "application/json"
    assert a["request"]["headers"] == b["request"]["headers"]  # same secret, same stand-in
    assert a["request"]["headers"][0] != c["request"]["headers"][0]
    set_cookie = a["response"]["headers"][0]["value"]
    assert "hunter2" not in set_cookie and set_cookie.endswith("; Path=/; HttpOnly")
    # another sanitizer with the same salt: the same values
    again = HttpSanitizer.from_rules(None, SALT).entry(entry("hunter2", "x"))
    assert again["request"]["headers"] == a["request"]["headers"]


def test_rules_for_query_json_and_headers(tmp_path: Path) -> None:
    rules = tmp_path / "traffic.yaml"
    rules.write_text(
        "version: 1\ndefault: keep\ntables:\n"
        "  http.headers:\n    columns:\n      x-api-key: {hash: {}}\n"
        "  http.query:\n    columns:\n      email: {fake: email}\n"
        "  http.json:\n    columns:\n      user.email: {fake: email}\n      password: {fixed: '***'}\n      token: {hash: {}}\n"
    )
    s = HttpSanitizer.from_rules(rules, SALT)
    raw = entry("hunter2", "ann@example.com")
    out = s.entry(copy.deepcopy(raw))
    text = repr(out)
    assert "hunter2" not in text and "ann@example.com" not in text
    assert "page=2" in out["request"]["url"]
    assert out["request"]["queryString"][1] == {"name": "page", "value": "2"}
    assert '"password":"***"' in out["request"]["postData"]["text"]
    assert '"age":41' in out["request"]["postData"]["text"]
    fake = out["request"]["queryString"][0]["value"]
    assert "@" in fake and fake in out["request"]["url"].replace("%40", "@")
    assert s.entry(copy.deepcopy(raw)) == out


def test_rules_need_a_salt(tmp_path: Path) -> None:
    from pytest_ephemeral.errors import DataError

    rules = tmp_path / "traffic.yaml"
    rules.write_text(
        "version: 1\ndefault: keep\ntables:\n  http.query:\n    columns:\n      q: {hash: {}}\n"
    )
    with pytest.raises(DataError, match="no salt for sanitizing"):
        HttpSanitizer.from_rules(rules, {})
