"""One lock primitive (``slm_core.locks``) for the queue runner, the value checks and the bench.

Threads stand in for processes: ``flock`` locks belong to open files, so two ``open`` calls in
one process exclude each other as two processes would.
"""

from __future__ import annotations

import os
import threading
import time

from slm_core.locks import file_lock, is_locked


def test_a_held_lock_is_refused_and_its_holder_can_write_into_it(tmp_path):
    path = tmp_path / "sub" / "x.lock"
    assert not is_locked(path) and not path.exists()  # a probe creates nothing
    with file_lock(path) as held:
        assert held is not None and is_locked(path)
        held.write("123")  # the runner writes its pid here
        held.flush()
        with file_lock(path) as other:
            assert other is None
        with file_lock(path, wait_s=0.2) as other:
            assert other is None
    assert path.read_text() == "123" and not is_locked(path)
    with file_lock(path) as again:
        assert again is not None


def test_a_blocking_taker_waits_for_the_holder(tmp_path):
    path = tmp_path / "x.lock"
    order: list[str] = []

    def take() -> None:
        with file_lock(path, wait_s=None) as handle:
            order.append("taken" if handle is not None else "refused")

    with file_lock(path):
        taker = threading.Thread(target=take)
        taker.start()
        time.sleep(0.2)
        order.append("released")
    taker.join(10)
    assert order == ["released", "taken"]


def test_a_removed_lock_file_never_lets_two_hold_the_lock(tmp_path):
    path = tmp_path / "x.lock"
    with file_lock(path, remove=True) as held:
        assert held is not None
    assert not path.exists()  # gone with its holder

    got, done = threading.Event(), threading.Event()

    def wait_for_it() -> None:
        with file_lock(path, wait_s=None):
            got.set()
            done.wait(10)

    with file_lock(path, remove=True):
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        time.sleep(0.3)  # the waiter has opened the file, which is unlinked as it is let go
    assert got.wait(10)
    # The waiter holds the file the path names now, not the unlinked one: no one else gets it.
    assert path.exists() and is_locked(path)
    with file_lock(path) as third:
        assert third is None
    done.set()
    waiter.join(10)
    assert not is_locked(path)


def test_a_shared_log_is_moved_aside_past_its_limit(tmp_path):
    import sys

    from slm_core.store.processes import MAX_LOG_BYTES, pid_alive, spawn_detached

    log = tmp_path / "logs" / "runner.log"
    log.parent.mkdir()
    with open(log, "wb") as f:
        f.truncate(MAX_LOG_BYTES + 1)  # sparse: over the limit without writing it
    pid = spawn_detached([sys.executable, "-c", "print('fresh')"], log, {}, "test")
    for _ in range(200):
        if not pid_alive(pid):
            break
        time.sleep(0.05)
    assert (tmp_path / "logs" / "runner.log.1").stat().st_size == MAX_LOG_BYTES + 1
    assert log.read_text() == "fresh\n"
    spawn_detached([sys.executable, "-c", "pass"], log, {}, "test")  # under the limit: kept
    assert (tmp_path / "logs" / "runner.log.1").stat().st_size == MAX_LOG_BYTES + 1


def test_a_claim_is_taken_once_and_a_stale_one_taken_over(tmp_path):
    from slm_core.locks import claim_file

    claim = tmp_path / "jobs" / "x.start"
    assert claim_file(claim, "first", stale_after_s=60)
    assert not claim_file(claim, "second", stale_after_s=60)  # a start got there first
    assert claim.read_text() == "first"
    old = claim.stat().st_mtime - 120
    os.utime(claim, (old, old))
    assert claim_file(claim, "third", stale_after_s=60)  # its starter died
    assert claim.read_text() == "third"
