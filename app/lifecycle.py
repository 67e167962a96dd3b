"""What keeps `pixwave up` from leaving processes behind, and its secrets private.

One `up` per data directory (a lock naming its pid). Every process it starts is
recorded in the data directory; the roles and moto also die with it (the kernel's
parent-death signal), and a watchdog, a small process of its own that outlives a
killed `up`, stops what the libraries started (PostgreSQL, Redis) when `up` dies.
Should the watchdog be killed too, the next `up` stops what the record names.

Only the standard library here (and the error tree): the watchdog runs this module.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from app.domain.errors import OperatorError

LOCK_FILE = "up.lock"
CHILDREN_FILE = "children.json"
STALE_STOP_SECONDS = 10.0
STALE_POLL_SECONDS = 0.1
PRIVATE_MODE = 0o600
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class UpAlreadyRunning(OperatorError):
    def __init__(self, data_dir: Path, pid: str) -> None:
        super().__init__(
            f"`pixwave up` is already running on {data_dir} (pid {pid or 'unknown'}):"
            f" stop it first, or give this one its own PIXWAVE_DATA_DIR"
        )


def write_private(path: Path, text: str) -> None:
    """Readable by the owner only from its first byte on, and replaced whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.replace(temporary, path)


@contextmanager
def up_lock(data_dir: Path) -> Iterator[None]:
    """Held while `up` runs (flock: the kernel drops it however `up` ends)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_FILE
    with path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise UpAlreadyRunning(data_dir, lock.read().strip()) from None
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


def running_up_pid(data_dir: Path) -> int | None:
    """The pid of the `up` running on this data directory, if one is."""
    try:
        pid = int((data_dir / LOCK_FILE).read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGTERM when this process dies, however."""
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


@dataclass(frozen=True, slots=True)
class Child:
    name: str
    pid: int
    started: int  # /proc start time: tells it from a later process given the same pid
    stop_signal: int
    group: bool  # leads its own process group: stop the whole group


def _started(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime


class Children:
    """The record of what `up` started, in the data directory."""

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / CHILDREN_FILE
        self._children: list[Child] = []

    def add(
        self, name: str, pid: int, *, stop_signal: int = signal.SIGTERM, group: bool = False
    ) -> None:
        started = _started(pid)
        if started is None:
            return  # gone already, or no /proc here
        self._children.append(Child(name, pid, started, stop_signal, group))
        write_private(self._path, json.dumps([asdict(c) for c in self._children]))

    def clear(self) -> None:
        self._children.clear()
        self._path.unlink(missing_ok=True)


def stop_stale(data_dir: Path) -> list[str]:
    """Stop what a killed `up` left running, as its record names it; "name (pid N)"
    of each one stopped."""
    path = data_dir / CHILDREN_FILE
    try:
        recorded = [Child(**entry) for entry in json.loads(path.read_text())]
    except (OSError, ValueError):
        return []
    alive = [c for c in recorded if _started(c.pid) == c.started]
    for child in alive:
        with suppress(ProcessLookupError, PermissionError):
            (os.killpg if child.group else os.kill)(child.pid, child.stop_signal)
    deadline = time.monotonic() + STALE_STOP_SECONDS
    while any(_started(c.pid) == c.started for c in alive) and time.monotonic() < deadline:
        time.sleep(STALE_POLL_SECONDS)
    for child in alive:
        if _started(child.pid) == child.started:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(child.pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    return [f"{c.name} (pid {c.pid})" for c in alive]


def start_watchdog(data_dir: Path, leftovers: tuple[str, ...]) -> IO[bytes]:
    """A process that waits for this one to end (its pipe closes), then stops what the
    record still names and removes the ``leftovers`` (files of the data directory that
    describe a running system). Returns the pipe: closing it ends the watchdog."""
    watchdog = subprocess.Popen(
        [sys.executable, "-m", "app.lifecycle", str(data_dir), *leftovers],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C or kill of up's group does not reach it
    )
    assert watchdog.stdin is not None
    return watchdog.stdin


def _watch(data_dir: Path, leftovers: list[str]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    sys.stdin.buffer.read()  # until `up` closes the pipe or dies
    if stop_stale(data_dir):  # `up` died without stopping them
        for name in leftovers:
            (data_dir / name).unlink(missing_ok=True)


if __name__ == "__main__":
    _watch(Path(sys.argv[1]), sys.argv[2:])
