"""Ray and logging settings for a run, kept free of heavy imports: Ray reads some of them when it is imported, so
they must be set before anything imports Ray (NeMo Curator does). Local runs stay on 127.0.0.1, with no auth token
and no usage reporting; a cluster address is configuration. Unless verbose, the engines (Ray, Ray Data, NeMo Curator)
keep their logs to their log files and the run shows one line per step."""

from __future__ import annotations

import os
import sys

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
