"""Ray settings for a run, kept free of heavy imports: Ray reads some of them when it is imported, so they must be
set before anything imports Ray (NeMo Curator does). Local runs stay on 127.0.0.1, with no auth token and no usage
reporting; a cluster address is configuration."""

from __future__ import annotations

import os
import sys

LOOPBACK = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0" keeps every Ray socket on loopback (read when Ray is imported)


def configure_ray(address: str | None) -> None:
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
