"""Study workers end with the study process, however it ends (even ``kill -9``).

An idle worker waits on its task queue, a pipe it holds both ends of, so it
would never see its parent go: each would linger, holding a loaded simulator.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait as mp_wait


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker as soon as the study process ends, however it ends.

    An idle worker waits on its task queue, a pipe it holds both ends of, so it
    never sees its parent go: after a ``kill -9`` of ``tdome mc`` the workers
    would wait forever, each holding a loaded simulator.  On Linux the kernel
    sends SIGKILL when the parent thread that started the worker ends
    (``PR_SET_PDEATHSIG``); the parent may have died before that call, so its
    pid is checked after it.  Elsewhere a thread watches the parent.
    """
    if _set_parent_death_signal(signal.SIGKILL):
        if os.getppid() != parent_pid:  # orphaned before prctl: no signal will ever come
            os._exit(1)
        return
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="tdome-watch-parent", daemon=True).start()


def _set_parent_death_signal(sig: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)``; False where it is not available (not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG, <linux/prctl.h>
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, period_s: float = 1.0) -> None:
    """Exit when the parent is gone: its multiprocessing sentinel closes, or this process is re-parented."""
    parent = multiprocessing.parent_process()
    while os.getppid() == parent_pid:
        if parent is None:
            time.sleep(period_s)
        elif mp_wait([parent.sentinel], timeout=period_s):
            break
    os._exit(1)
