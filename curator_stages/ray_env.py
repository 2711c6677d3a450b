"""Ray and logging settings for a run, kept free of heavy imports: Ray reads some of them when it is imported, so
they must be set before anything imports Ray (NeMo Curator does). Local runs stay on 127.0.0.1, with no auth token
and no usage reporting; a cluster address is configuration. Unless verbose, the engines (Ray, Ray Data, NeMo Curator)
keep their logs to their log files and the run shows one line per step."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

LOOPBACK = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0" keeps every Ray socket on loopback (read when Ray is imported)


def configure_ray(address: str | None, verbose: bool = True) -> None:
    if not verbose:
        os.environ["RAY_LOG_TO_DRIVER"] = "0"  # workers' output stays in Ray's log files
        os.environ["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
        os.environ["RAY_DATA_LOG_LEVEL"] = "ERROR"
        os.environ["RAY_LOGGER_LEVEL"] = "warning"  # what ray.init sets its own logger to
        os.environ["LOGURU_LEVEL"] = "WARNING"  # NeMo Curator's logs on the workers
        os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning,ignore::DeprecationWarning")
    if address:
        os.environ["RAY_ADDRESS"] = address
        return
    if "ray" in sys.modules and os.environ.get(LOOPBACK) != "0":
        from loguru import logger

        logger.warning("Ray was imported before configure_ray(None): it may bind to this machine's network address. "
                       "Call canto_nemo.curator_stages.configure_ray(None) before importing NeMo Curator.")
    os.environ["RAY_ADDRESS"] = "local"  # a fresh local instance, never a stale cluster from an earlier run
    os.environ[LOOPBACK] = "0"
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def quiet_ray_driver(verbose: bool) -> None:
    """Ray sets its own logger to INFO when it is imported: set it back, once it is."""
    if not verbose:
        import logging

        logging.getLogger("ray").setLevel(logging.WARNING)


def configure_logging(verbose: bool) -> None:
    """In this process: the engines' INFO logs and library warnings only when verbose."""
    import logging
    import warnings

    # cosmos_xenna (NeMo Curator's) resets loguru from PYTHON_LOG when it is imported: say the level there too.
    os.environ.setdefault("PYTHON_LOG", "info" if verbose else "warning")
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="INFO" if verbose else "WARNING")
    if not verbose:
        for name in ("ray", "ray.data", "nemo_curator"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # lm-eval and transformers: their per-request progress bars and notices are the engines' logs too.
        logging.getLogger("lm_eval").setLevel(logging.ERROR)
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)


@contextmanager
def one_ray_job(enabled: bool = True) -> Iterator[None]:
    """The pipelines run inside this block share one Ray job, and so one set of worker processes.

    NeMo Curator's executors connect a driver (`ray.init`) and disconnect it (`ray.shutdown`) around every pipeline.
    Each connection is a new Ray job, and a job's worker processes end with it, so pass 2 started its workers again and
    each imported NeMo Curator, pandas and the stages anew (Wikipedia: pass 2's setup on the node 1.5 s -> 0.02 s).
    Inside the block the executors' disconnects are deferred to its end; their `ray.init(ignore_reinit_error=True)`
    then finds the connection of the first pipeline. Only for NeMo Curator's Ray Data executor, whose pipelines leave
    nothing running when they return (its actor pools end with each dataset).
    """
    import ray

    if not enabled:
        yield
        return
    disconnect = ray.shutdown
    ray.shutdown = lambda *args, **kwargs: None
    try:
        yield
    finally:
        ray.shutdown = disconnect
        disconnect()


class PrivateRay:
    """One Ray instance on 127.0.0.1 for the whole of a local run, shared by its pipelines.

    NeMo Curator's executors call ray.init() and ray.shutdown() around every pipeline; with RAY_ADDRESS=local each
    pass paid for a new instance (4-8 s here) and for stopping it. With RAY_ADDRESS pointing at a running head, the
    same calls connect and disconnect in well under a second. The head is `ray start --head --block` in its own
    process group, started as soon as the run begins (it comes up while the run checks its inputs), told by the
    kernel to stop if this process dies (PR_SET_PDEATHSIG: a killed driver leaves no Ray behind), and killed with
    its group when the run ends. Does nothing when a cluster address is configured.
    """

    def __init__(self, address: str | None, verbose: bool = False, log_dir: str | None = None):
        self.enabled = not address and sys.platform.startswith("linux")
        self.verbose = verbose
        self.process = None
        self.address = None
        self._log = None
        self._log_dir = log_dir

    def __enter__(self) -> PrivateRay:
        if not self.enabled:
            return self
        if self.process is not None:  # started already (CurationWorkflow.run_config starts it first): point at it
            os.environ["RAY_ADDRESS"] = self.address
            return self
        import socket
        import subprocess
        import tempfile

        with socket.socket() as s:  # a free port, chosen by the kernel
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ray = os.path.join(os.path.dirname(sys.executable), "ray")
        command = [ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
                   "--include-dashboard=false", "--disable-usage-stats", "--no-monitor"]
        # --no-monitor: the autoscaler's monitor has nothing to scale on one fixed node, and its process took 0.5 s of
        # CPU from the two cores the head, the driver and the first workers share while they start.
        if not self.verbose:
            # The log monitor streams the workers' output to the drivers, which RAY_LOG_TO_DRIVER=0 turns off when
            # not verbose anyway; without it the head is up about 0.5-1 s sooner (5.1 -> 4.0-4.7 s here).
            command.append("--include-log-monitor=false")
        self._log = tempfile.NamedTemporaryFile("w+", prefix="ray-head-", suffix=".log", dir=self._log_dir,
                                                delete=False)
        self.process = subprocess.Popen(command, stdout=None if self.verbose else self._log, stderr=subprocess.STDOUT
                                        if not self.verbose else None, stdin=subprocess.DEVNULL,
                                        preexec_fn=_own_group_dying_with_parent)
        self.address = f"127.0.0.1:{port}"
        self._previous = os.environ.get("RAY_ADDRESS")
        os.environ["RAY_ADDRESS"] = self.address
        return self

    def wait(self, timeout_s: float = 120) -> None:
        """Until the head accepts connections; its log in the error if it stopped instead."""
        if not self.enabled:
            return
        import socket
        import time

        host, port = self.address.split(":")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._log.seek(0)
                msg = f"Ray did not start (exit {self.process.returncode}): {self._log.read()[-2000:]}"
                raise RuntimeError(msg)
            try:
                with socket.create_connection((host, int(port)), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        msg = f"Ray did not start within {timeout_s:.0f} s (log: {self._log.name})"
        raise RuntimeError(msg)

    def __exit__(self, *exc) -> None:
        if not self.enabled or self.process is None:
            return
        import signal

        # Every driver has disconnected by now (the executors' ray.shutdown): nothing is left to stop gracefully,
        # and `ray start --block` takes half a minute over SIGTERM.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None
        if self._previous is None:
            os.environ.pop("RAY_ADDRESS", None)
        else:
            os.environ["RAY_ADDRESS"] = self._previous
        self._log.close()
        os.unlink(self._log.name)


def _own_group_dying_with_parent() -> None:
    import ctypes
    import signal

    os.setsid()
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
