"""The `canto-nemo` console script: a thin dispatcher over the packages curator_stages, cantonese and recipes."""
