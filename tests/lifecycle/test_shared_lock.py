"""The shared-mode lock: a lock left by a killed holder is recovered at once;
a lock held too long is a clear error, never a hang."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import pytest

from pytest_ephemeral.lifecycle.shared import SharedLockTimeout, shared_lock, shared_paths


def hold_lock_in_child(run_id: str) -> subprocess.Popen[str]:
    code = (
        "import sys, time\n"
        "from pytest_ephemeral.lifecycle.shared import shared_lock\n"
        f"with shared_lock({run_id!r}, 'hash', 5):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_lock_of_a_killed_holder_is_free_at_once() -> None:
    run_id = uuid.uuid4().hex
    child = hold_lock_in_child(run_id)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()  # type: ignore[union-attr]
    t0 = time.monotonic()
    with shared_lock(run_id, "hash", timeout=5) as error_file:
        assert not error_file.exists()
    assert time.monotonic() - t0 < 4  # recovered, not waited out
    for path in shared_paths(run_id, "hash"):
        path.unlink(missing_ok=True)


def test_a_held_lock_times_out_with_a_clear_message() -> None:
    run_id = uuid.uuid4().hex
    child = hold_lock_in_child(run_id)
    try:
        with pytest.raises(SharedLockTimeout) as info, shared_lock(run_id, "hash", timeout=0.5):
            pass
        text = str(info.value)
        assert "waited 0.5s for the shared environment lock" in text
        assert str(shared_paths(run_id, "hash")[0]) in text and "--eph-timeout" in text
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        for path in shared_paths(run_id, "hash"):
            path.unlink(missing_ok=True)
