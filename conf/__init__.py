"""Hydra configs, shipped with the package so `pkg://conf` finds them in any install."""
