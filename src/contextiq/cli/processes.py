"""`contextiq serve --workers N`: N request processes, each listening on a socket of its own,
and the duties process (the relay, and on the in-process bus the worker), each started again
when it dies; the duties process also when its event loop stops beating its heartbeat, which
`serve` reads from shared memory (a request process's stall is its liveness probe's to find).

uvicorn's supervisor binds one socket that its processes share: each new connection wakes
them all and the first to accept keeps it, so keep-alive connections split unevenly (of 64
opened one after another, 37 to 52 went to one of two processes across five tries) and the
busier process's queue set the tail latency. With SO_REUSEPORT (Linux) every process binds
its own socket and the kernel spreads connections over them by address hash (26 to 38 of 64).
Where the option is missing, the processes share one socket, as uvicorn's do.
"""

import ctypes
import logging
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess
from types import FrameType

import uvicorn

from contextiq.cli.listen import listening_socket
from contextiq.observability.heartbeat import Heartbeat

log = logging.getLogger(__name__)

#: A process that dies this soon after its start twice in a row will keep dying (a broken
#: configuration, say): serve stops instead of restarting it again.
FAILS_AT_START_SECONDS = 10.0
BALANCED = hasattr(socket, "SO_REUSEPORT") and socket.SO_REUSEPORT != 0


def _request_process(config: uvicorn.Config, shared: socket.socket | None) -> None:
    config.configure_logging()  # a spawned process starts without the parent's logging
    sock = shared or listening_socket(config.host, config.port, reuse_port=True)
    uvicorn.Server(config).run(sockets=[sock])


class ServeProcesses:
    def __init__(
        self,
        config: uvicorn.Config,
        workers: int,
        first: socket.socket,
        duties: Callable[[ctypes.c_double], None],
    ) -> None:
        """`first` is the address `serve` claimed (`listen.claim_address`): shared by the
        processes where SO_REUSEPORT is missing, else closed and bound again by each.
        `duties` runs in a process of its own beside them, and beats a heartbeat into the
        shared memory it is given."""
        self.config, self.workers, self.duties = config, workers, duties
        self._stopping = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self._duties_beat = Heartbeat(cell=self._context.RawValue(ctypes.c_double, 0.0))
        self._shared: socket.socket | None = None if BALANCED else first
        if BALANCED:
            first.close()

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; restart a process that dies. Returns an exit code.

        The duties process is the last slot: when it died (an OOM kill in a training round,
        say), interactions were still accepted into the outbox and none was applied again.
        """
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        running = [self._start(n) for n in range(self.workers + 1)]
        quick_deaths = [0] * len(running)
        try:
            while not self._stopping.wait(0.5):
                for n, (process, started) in enumerate(running):
                    if n == self.workers and process.is_alive():
                        self._stop_if_stuck(process)
                    if process.is_alive():
                        continue
                    quick = time.monotonic() - started < FAILS_AT_START_SECONDS
                    quick_deaths[n] = quick_deaths[n] + 1 if quick else 0
                    if quick_deaths[n] > 1:
                        log.error(
                            "%s process %s failed at start again (exit code %s)",
                            process.name,
                            process.pid,
                            process.exitcode,
                        )
                        return 1
                    log.warning(
                        "%s process %s exited (exit code %s): starting another",
                        process.name,
                        process.pid,
                        process.exitcode,
                    )
                    running[n] = self._start(n)
            return 0
        finally:
            for process, _ in running:
                process.terminate()
            for process, _ in running:
                process.join(30)
                if process.is_alive():
                    process.kill()

    def _start(self, slot: int) -> tuple[SpawnProcess, float]:
        """Slots below `workers` serve requests; the last runs the duties."""
        if slot < self.workers:
            process = self._context.Process(
                target=_request_process, args=(self.config, self._shared), name="request"
            )
            process.start()
        else:
            self._duties_beat.beat()  # from its start: spawning and imports take seconds
            process = self._context.Process(
                target=self.duties, args=(self._duties_beat.cell,), name="duties"
            )
            process.start()
            log.info("relay and embedded worker in process %s", process.pid)
        return process, time.monotonic()

    def _stop_if_stuck(self, process: SpawnProcess) -> None:
        """Kill the duties process when its loop has not beaten for `STALE_AFTER_SECONDS`: it
        would hold the outbox back, alive, for good. The loop above starts another."""
        if self._duties_beat.alive():
            return
        log.error(
            "duties process %s: its event loop has been silent for %.0f s; stopping it",
            process.pid,
            self._duties_beat.silent_for(),
        )
        process.kill()
        process.join(10)

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping.set()
