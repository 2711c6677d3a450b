"""The learned dialect weights shipped in the package are exactly what the build command makes, whatever state
NumPy's global random generator is in (liblinear draws from it unless seeded)."""

import numpy as np
import pytest

from canto_nemo.cantonese import build_dialect_weights

pytestmark = pytest.mark.slow


def test_shipped_weights_reproduce_from_the_build_command(tmp_path, capsys):
    rebuilt = []
    for seed in (1, 2):
        np.random.seed(seed)
        rebuilt.append(tmp_path / f"weights{seed}.tsv")
        build_dialect_weights.main(rebuilt[-1])
    assert rebuilt[0].read_text(encoding="utf-8") == rebuilt[1].read_text(encoding="utf-8")
    assert rebuilt[0].read_text(encoding="utf-8") == build_dialect_weights.OUTPUT.read_text(encoding="utf-8")
    assert "held-out recall" in capsys.readouterr().out
