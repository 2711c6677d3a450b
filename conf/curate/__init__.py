"""Curation pipeline configs: config.yaml, with the groups pipeline/ and dialect/."""
