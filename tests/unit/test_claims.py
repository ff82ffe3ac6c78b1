"""The busy guard's claim: one winner per session across threads and processes, freed by death."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from threadline.claims import Claim, Claims
from threadline.errors import SessionBusy

ROUNDS = 20
SESSION = "0b6c8a52-3f49-4c8e-9d61-2f3a4b5c6d7e"


def test_a_second_claim_in_the_same_process_is_refused_with_our_pid(tmp_path: Path) -> None:
    claims = Claims(tmp_path / "claims")
    claim = claims.try_claim(SESSION)
    with pytest.raises(SessionBusy) as refused:
        Claims(tmp_path / "claims").try_claim(SESSION)
    assert refused.value.data == {"sessionId": SESSION, "pid": os.getpid()}
    assert refused.value.code == -32002
    assert str(os.getpid()) in refused.value.message
    assert claims.holder(SESSION) == os.getpid()
    claim.release()
    claim.release()  # idempotent
    assert claims.holder(SESSION) is None
    with claims.try_claim(SESSION) as again:
        assert again.held
    assert not again.held


def test_files_are_private_and_ids_checked(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        claims = Claims(tmp_path / "store" / "claims")
        with claims.try_claim(SESSION) as claim:
            assert claim.path.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "store" / "claims").stat().st_mode & 0o777 == 0o700
        assert (tmp_path / "store").stat().st_mode & 0o777 == 0o700, "missing parents are private too"
    finally:
        os.umask(old)
    for bad in ("../etc/passwd", "", ".hidden", "a/b", "x" * 200, "id\n"):
        with pytest.raises(ValueError):
            claims.try_claim(bad)


def test_threads_racing_for_one_id_have_exactly_one_winner(tmp_path: Path) -> None:
    claims = Claims(tmp_path / "claims")
    contenders = 8
    for round_ in range(ROUNDS):
        session = f"{SESSION[:-2]}{round_:02d}"
        barrier = threading.Barrier(contenders)
        won: list[Claim] = []
        refused: list[int] = []

        def contend(
            session: str = session,
            barrier: threading.Barrier = barrier,
            won: list[Claim] = won,
            refused: list[int] = refused,
        ) -> None:
            barrier.wait()
            try:
                won.append(claims.try_claim(session))
            except SessionBusy as exc:
                refused.append(exc.data["pid"])

        threads = [threading.Thread(target=contend) for _ in range(contenders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1, f"round {round_}: {len(won)} winners"
        assert refused == [os.getpid()] * (contenders - 1)
        won[0].release()


def test_holder_probes_never_refuse_a_free_session(tmp_path: Path) -> None:
    """``holder()`` takes a shared lock for an instant; a claim racing with it must still win."""
    claims = Claims(tmp_path / "claims")
    claims.try_claim(SESSION).release()
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            claims.holder(SESSION)

    probers = [threading.Thread(target=probe) for _ in range(3)]
    for thread in probers:
        thread.start()
    try:
        for _ in range(200):
            claims.try_claim(SESSION).release()
    finally:
        stop.set()
        for thread in probers:
            thread.join()


def _contender(folder: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    claims = Claims(folder)
    for round_ in range(ROUNDS):
        session = f"{SESSION[:-2]}{round_:02d}"
        barrier.wait()
        try:
            claim = claims.try_claim(session)
        except SessionBusy as exc:
            results.put((round_, os.getpid(), "refused", exc.data["pid"]))
            claim = None
        else:
            results.put((round_, os.getpid(), "won", os.getpid()))
        barrier.wait()  # every contender has tried before the winner lets go
        if claim is not None:
            claim.release()


def test_processes_racing_for_one_id_have_exactly_one_winner_naming_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    contenders = 5
    barrier = context.Barrier(contenders)
    results = context.Queue()
    processes = [
        context.Process(target=_contender, args=(str(tmp_path / "claims"), barrier, results)) for _ in range(contenders)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in range(ROUNDS * contenders)]
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    for round_ in range(ROUNDS):
        this = [o for o in outcomes if o[0] == round_]
        winners = [pid for _, pid, kind, _ in this if kind == "won"]
        assert len(winners) == 1, f"round {round_}: {this}"
        assert {named for _, _, kind, named in this if kind == "refused"} == {winners[0]}


HOLDER = """
import sys
from threadline.claims import Claim, Claims
claim = Claims(sys.argv[1]).try_claim(sys.argv[2])
print("held", flush=True)
sys.stdin.read()
"""


def test_kill_9_of_the_holder_frees_the_session(tmp_path: Path) -> None:
    claims = Claims(tmp_path / "claims")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "claims"), SESSION],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert claims.holder(SESSION) == holder.pid
        with pytest.raises(SessionBusy) as refused:
            claims.try_claim(SESSION)
        assert refused.value.data["pid"] == holder.pid
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert claims.holder(SESSION) is None  # the lock file is still there, the lock is not
        assert (tmp_path / "claims" / f"{SESSION}.lock").exists()
        with claims.try_claim(SESSION):
            assert claims.holder(SESSION) == os.getpid()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
