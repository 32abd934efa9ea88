"""``eph sanitize`` (the entry function; the ``eph`` command wires it in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ephemeral.data.sanitize.cli import main

SALT = "tests-salt-0123456789abcdef"

RULES = """\
default: refuse
tables:
  public.users:
    columns:
      id: keep
      email: {fake: email, unique: true}
  public.orders:
    columns:
      id: keep
      note: keep
"""

DUMP = """\
COPY public.users (id, email) FROM stdin;
1\tanna@corp.example
\\.
COPY public.orders (id, note) FROM stdin;
7\tdeliver to the back door
\\.
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EPH_SANITIZE_SALT", SALT)
    monkeypatch.delenv("EPH_SANITIZE_SALT_FILE", raising=False)
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "prod.sql").write_text(DUMP)
    return tmp_path


def run(workdir: Path, *extra: str) -> int:
    return main([str(workdir / "prod.sql"), "--rules", str(workdir / "rules.yaml"), *extra])


def test_success_prints_one_summary_line(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "safe.sql"
    assert run(workdir, "--output", str(out)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.count("\n") == 1
    assert captured.out.startswith("eph sanitize: 2 rows in 2 tables")
    assert "rows/s" in captured.out
    assert "anna@corp.example" not in out.read_text()


def test_check_passes_on_clean_output(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = workdir / "safe.sql"
    assert run(workdir, "--output", str(out), "--check") == 0
    assert "leak check passed" in capsys.readouterr().out
    assert out.exists()
    assert sorted(p.name for p in workdir.iterdir()) == ["prod.sql", "rules.yaml", "safe.sql"]


def test_check_fails_on_a_leak_and_writes_nothing(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "prod.sql").write_text(DUMP.replace("deliver to the back door", "anna@corp.example"))
    out = workdir / "safe.sql"
    assert run(workdir, "--output", str(out), "--check") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("eph sanitize: error: ")
    assert "1 original value of public.users.email found in public.orders.note" in err
    assert "anna@corp.example" not in err
    assert not out.exists()
    assert sorted(p.name for p in workdir.iterdir()) == ["prod.sql", "rules.yaml"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--output"], "expected one argument"),
        (["--output", "o.sql", "--format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    assert run(workdir, *args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("eph sanitize: error: ")
    assert expected in err


def test_bad_input_missing_salt_and_missing_files_exit_2(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "prod.sql").write_text("COPY public.users (id, email) FROM stdin;\n1\n\\.\n")
    assert run(workdir, "--output", str(workdir / "o.sql")) == 2
    assert "COPY row of public.users has 1 fields" in capsys.readouterr().err
    monkeypatch.delenv("EPH_SANITIZE_SALT")
    assert run(workdir, "--output", str(workdir / "o.sql")) == 2
    assert "no salt" in capsys.readouterr().err
    monkeypatch.setenv("EPH_SANITIZE_SALT", SALT)
    assert main([str(workdir / "nope.sql"), "--rules", str(workdir / "rules.yaml"), "-o", "x"]) == 2
    assert "input file not found" in capsys.readouterr().err
    assert not (workdir / "o.sql").exists()


def test_csv_with_table(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = workdir / "export.csv"
    source.write_text("id,email\n1,anna@corp.example\n")
    out = workdir / "safe.csv"
    code = main(
        [
            str(source),
            "--rules",
            str(workdir / "rules.yaml"),
            "-o",
            str(out),
            "--table",
            "public.users",
            "--check",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "anna@corp.example" not in out.read_text()


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "usage: eph sanitize" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "content", "where", "what"),
    [
        (
            "trunc.sql",
            b"COPY public.users (id, email) FROM stdin;\n1\ta@b.example\n",
            1,
            "never ends",
        ),
        ("width.sql", b"COPY public.users (id, email) FROM stdin;\n1\n\\.\n", 2, "has 1 fields"),
        ("latin1.sql", b"SET a = 1;\nSET b = '\xe9';\n", 2, "not valid UTF-8"),
        (
            "quote.sql",
            b"INSERT INTO public.users (id, email) VALUES\n(1, 'never closed);\n",
            1,
            "never ends",
        ),
        ("users.csv", b"id,email\n1,a@b.example\n2\n", 3, "this CSV row has 1 fields"),
    ],
)
def test_malformed_input_is_one_line_exit_2_no_traceback(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    content: bytes,
    where: int,
    what: str,
) -> None:
    (workdir / "rules.yaml").write_text("default: keep\n")
    source = workdir / name
    source.write_bytes(content)
    out = workdir / ("safe" + source.suffix)
    assert main([str(source), "--rules", str(workdir / "rules.yaml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"eph sanitize: error: {source}:{where}: ")
    assert what in err
    assert not out.exists()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_check_with_the_originals_collected_in_a_second_process(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    from pytest_ephemeral.data.sanitize import cli

    monkeypatch.setattr(cli, "PARALLEL_BYTES", 1)  # any input counts as large
    monkeypatch.setenv("EPH_SANITIZE_JOBS", jobs)
    assert cli._parallel(workdir / "prod.sql") is (jobs == "2")
    out = workdir / "safe.sql"
    assert run(workdir, "--output", str(out), "--check") == 0
    assert "leak check passed" in capsys.readouterr().out
    # An e-mail pasted into the kept note, in capitals and inside a sentence.
    (workdir / "prod.sql").write_text(
        DUMP.replace("deliver to the back door", "mail ANNA@corp.example first")
    )
    leaky = workdir / "leaky.sql"
    assert run(workdir, "--output", str(leaky), "--check") == 1
    err = capsys.readouterr().err
    assert "1 original value of public.users.email found in public.orders.note" in err
    assert "anna@" not in err.lower() and not leaky.exists()
    # A bad rule in the helper process is one line too.
    (workdir / "prod.sql").write_text(
        DUMP.replace("COPY public.users (id, email)", "COPY public.users (id, mail)")
    )
    assert run(workdir, "--output", str(leaky), "--check") == 2
    assert capsys.readouterr().err.count("\n") == 1
