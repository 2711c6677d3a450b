"""Ray settings for a run, kept free of heavy imports: Ray reads some of them when it is imported, so they must be
set before anything imports Ray (NeMo Curator does). Local runs stay on 127.0.0.1, with no auth token and no usage
reporting; a cluster address is configuration."""

from __future__ import annotations

import os


def configure_ray(address: str | None) -> None:
    if address:
        os.environ["RAY_ADDRESS"] = address
        return
    os.environ["RAY_ADDRESS"] = "local"  # a fresh local instance, never a stale cluster from an earlier run
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # keeps every Ray socket on loopback (read at import)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
