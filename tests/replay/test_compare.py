"""Comparison with noise cancelling, endpoint templates, redaction."""

from __future__ import annotations

import json

import pytest

from pytest_ephemeral.replay import endpoint_of, template_path
from pytest_ephemeral.replay.compare import Answer, Comparator, flatten, redact_target


def answer(doc: object, status: int = 200, **headers: str) -> Answer:
    hdrs = (
        ("content-type", "application/json"),
        *((k.replace("_", "-"), v) for k, v in headers.items()),
    )
    return Answer(status, hdrs, json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/items/42", "/items/{id}"),
        ("/items/42/reviews/7", "/items/{id}/reviews/{id}"),
        ("/users/3f2b8c1e-9a4d-4c2b-8e1f-0a1b2c3d4e5f", "/users/{id}"),
        ("/blobs/deadbeef0123cafe", "/blobs/{id}"),
        ("/items/featured", "/items/featured"),
        ("/v2/items", "/v2/items"),
        ("/", "/"),
        ("/s/aB3dE5fG7hJ9kL1mN3pQ5r", "/s/{id}"),
    ],
)
def test_template(path: str, template: str) -> None:
    assert template_path(path) == template


def test_endpoint_drops_query() -> None:
    assert endpoint_of("get", "/items/9?x=1") == "GET /items/{id}"


def test_flatten() -> None:
    f = flatten(answer({"a": {"b": [1, {"c": None}]}, "e": [], "s": "x"}, date="today", x_v="1"))
    assert f == {
        "status": "200",
        "header.content-type": "application/json",
        "header.x-v": "1",
        "body.a.b[0]": "1",
        "body.a.b[1].c": "null",
        "body.e": "[]",
        "body.s": '"x"',
    }
    text = flatten(Answer(404, (("content-type", "text/plain"),), b"not here"))
    assert text["body"] == "not here" and text["status"] == "404"


def test_noise_is_never_reported() -> None:
    c = Comparator()
    for i in range(10):
        target = answer(
            {"id": i, "price": 31 if i == 3 else i * 10, "ts": 1000 + i, "rid": f"t{i}"}
        )
        base1 = answer({"id": i, "price": i * 10, "ts": 2000 + i, "rid": f"a{i}"})
        base2 = answer({"id": i, "price": i * 10, "ts": 3000 + i, "rid": f"b{i}"})
        c.add("GET /items/{id}", f"/items/{i}?token=s3cret", target, base1, base2)
    diffs = c.differences()
    assert [(d.endpoint, d.field, d.count) for d in diffs] == [("GET /items/{id}", "body.price", 1)]
    assert diffs[0].examples[0] == {
        "request": "/items/3?token=%2A%2A%2A",
        "field": "body.price",
        "target": "31",
        "baseline": "30",
    }
    assert c.noise_summary() == {"GET /items/{id}": ["body.rid", "body.ts"]}
    assert c.diff_rate("GET /items/{id}") == pytest.approx(0.1)
    assert c.diff_rate() == pytest.approx(0.1)
    assert c.compared() == 10 and c.compared("GET /items/{id}") == 10


def test_noise_is_per_endpoint_and_folds_indices() -> None:
    c = Comparator()
    # on /a the order of list items is noisy; on /b the same field is a real difference
    c.add("GET /a", "/a", answer({"l": [2, 1]}), answer({"l": [1, 2]}), answer({"l": [2, 1]}))
    c.add("GET /b", "/b", answer({"l": [2, 1]}), answer({"l": [1, 2]}), answer({"l": [1, 2]}))
    assert [(d.endpoint, d.field, d.count) for d in c.differences()] == [("GET /b", "body.l[*]", 2)]


def test_status_header_and_missing_fields() -> None:
    c = Comparator()
    c.add(
        "GET /x",
        "/x",
        answer({"a": 1}, 500, x_new="y"),
        answer({"a": 1, "b": 2}),
        answer({"a": 1, "b": 2}),
    )
    fields = {d.field for d in c.differences()}
    assert fields == {"status", "header.x-new", "body.b"}
    ex = next(d for d in c.differences() if d.field == "body.b").examples[0]
    assert (ex["target"], ex["baseline"]) == ("<absent>", "2")


def test_secret_examples_are_hashed() -> None:
    c = Comparator()
    c.add(
        "GET /x",
        "/x",
        answer({"session_token": "t-new", "n": 1}, set_cookie="sid=new"),
        answer({"session_token": "t-old", "n": 2}, set_cookie="sid=old"),
        answer({"session_token": "t-old", "n": 2}, set_cookie="sid=old"),
    )
    examples = {d.field: d.examples[0] for d in c.differences()}
    assert set(examples) == {"body.session_token", "body.n", "header.set-cookie"}
    for field in ("body.session_token", "header.set-cookie"):
        ex = examples[field]
        assert ex["target"].startswith("<redacted, sha256 ") and ex["target"] != ex["baseline"]
        assert "new" not in ex["target"] and "old" not in ex["baseline"]
    assert (examples["body.n"]["target"], examples["body.n"]["baseline"]) == ("1", "2")


def test_redact_target() -> None:
    assert (
        redact_target("/a?q=lamp&api_key=k&Session=s")
        == "/a?q=lamp&api_key=%2A%2A%2A&Session=%2A%2A%2A"
    )
    assert redact_target("/a") == "/a"
