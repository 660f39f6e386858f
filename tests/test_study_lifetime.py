"""Study workers die with the process that started them, even on kill -9 (no orphans holding a simulator).

The processes are found and watched through /proc, so these tests run on Linux only.
Every wait is bounded, and every process group a test starts is killed when it ends.
"""

import os
import select
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")

SMALL = Path(__file__).parent / "data" / "small.yaml"
START_S = 180.0  # bound on starting a study (spawned workers import numpy, numba, pyarrow; a loaded CI machine)
DEATH_S = 20.0  # bound on the workers dying once their parent is killed


# --------------------------------------------------------------------------- processes, read from /proc


def _stat(pid: int) -> dict | None:
    """Parent, process group, state and start time of ``pid`` (None: no such process)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": field 3 (state) onwards
    return dict(state=rest[0], ppid=int(rest[1]), pgrp=int(rest[2]), start=int(rest[19]))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _processes() -> dict[int, dict]:
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := _stat(int(name))) is not None:
            found[int(name)] = st
    return found


def _descendants(root: int) -> dict[int, int]:
    """pid -> start time of every process below ``root``."""
    procs = _processes()
    out, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for pid, st in procs.items():
            if st["ppid"] == parent and pid not in out:
                out[pid] = st["start"]
                todo.append(pid)
    return out


def _alive(pid: int, start: int) -> bool:
    """Running (not a zombie), and the same process (a recycled pid has another start time)."""
    st = _stat(pid)
    return st is not None and st["state"] not in "ZX" and st["start"] == start


def _left_behind(tree: dict[int, int], pgrp: int) -> list[str]:
    """Live processes of ``tree`` or of process group ``pgrp``, with their command lines."""
    live = {pid for pid, start in tree.items() if _alive(pid, start)}
    live |= {pid for pid, st in _processes().items() if st["pgrp"] == pgrp and st["state"] not in "ZX"}
    return [f"{pid}: {_cmdline(pid)}" for pid in sorted(live)]


def _wait_gone(tree: dict[int, int], pgrp: int) -> list[str]:
    """What is still alive after up to ``DEATH_S`` (nothing, as soon as everything is gone)."""
    deadline = time.monotonic() + DEATH_S
    while (left := _left_behind(tree, pgrp)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _poll(condition, timeout_s: float, period_s: float = 0.1):
    """``condition()`` once it is truthy, or its last value after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(period_s)
    return value


def _kill_parent_and_wait(proc: subprocess.Popen, tree: dict[int, int]) -> list[str]:
    """kill -9 the parent only; what of ``tree`` (or of its process group) is still alive after ``DEATH_S``."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return _wait_gone(tree, proc.pid)


def _kill_group(proc: subprocess.Popen) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _workers(pid: int) -> list[int]:
    return [p for p in _descendants(pid) if "multiprocessing.spawn" in _cmdline(p)]


# --------------------------------------------------------------------------- the command, for real


def test_kill_9_of_mc_leaves_no_process_behind(tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text(SMALL.read_text().replace("duration_s: 900.0", "duration_s: 130.0"))
    out = tmp_path / "mc"
    log_path = tmp_path / "mc.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tdome.cli", "mc", str(short), "--runs", "400",
                                 "--workers", "2", "--fidelity", "perfect_picture", "--out", str(out), "--quiet"],
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def busy() -> bool:
            assert proc.poll() is None, f"tdome mc ended early:\n{log_path.read_text()}"
            return len(_workers(proc.pid)) == 2 and any((out / "results").glob("*.parquet"))

        assert _poll(busy, START_S), f"tdome mc did not get busy in {START_S:.0f} s:\n{log_path.read_text()}"
        tree = _descendants(proc.pid)  # the two workers and multiprocessing's resource tracker
        left = _kill_parent_and_wait(proc, tree)
        assert not left, f"still alive {DEATH_S:.0f} s after kill -9 of tdome mc: {left}"
    finally:
        _kill_group(proc)


# --------------------------------------------------------------------------- each safeguard on its own

POOL_SCRIPT = """
import os, sys, threading, time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from tdome.studies import lifetime


def watchdog_only(parent_pid):  # the safeguard used where prctl is missing
    threading.Thread(target=lifetime._watch_parent, args=(parent_pid, 0.2), daemon=True).start()


def pid_after(delay_s):
    time.sleep(delay_s)
    return os.getpid()


if __name__ == "__main__":
    init = watchdog_only if sys.argv[1] == "watchdog" else lifetime.die_with_parent
    pool = ProcessPoolExecutor(2, mp_context=get_context("spawn"), initializer=init, initargs=(os.getpid(),))
    print(*sorted(set(pool.map(pid_after, [1.0, 1.0]))), flush=True)
    time.sleep(600)  # the workers now wait, idle, for work that never comes
"""


@pytest.mark.parametrize("guard", ["prctl", "watchdog"])
def test_idle_pool_workers_die_with_a_killed_parent(tmp_path, guard):
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), guard], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], START_S)
        line = proc.stdout.readline() if ready else b""
        assert line, f"the pool did not start: {proc.stderr.read1(10000) if proc.poll() is not None else ''}"
        tree = _descendants(proc.pid)  # the workers and multiprocessing's resource tracker
        assert set(map(int, line.split())) <= set(tree)
        left = _kill_parent_and_wait(proc, tree)
        assert not left, f"still alive {DEATH_S:.0f} s after kill -9 of their parent: {left}"
    finally:
        _kill_group(proc)
        proc.stdout.close()
        proc.stderr.close()


def test_a_worker_whose_parent_died_before_it_started_exits_at_once():
    # The parent it was started for (pid given) is not its parent any more: prctl would never fire.
    code = "from tdome.studies.lifetime import die_with_parent; die_with_parent(1); print('still here')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "still here" not in r.stdout


def test_a_worker_whose_parent_lives_carries_on():
    code = "import os; from tdome.studies.lifetime import die_with_parent; die_with_parent(os.getppid()); print('ok')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
