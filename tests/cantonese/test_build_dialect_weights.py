"""The learned dialect weights shipped in the package are exactly what the build command makes."""

import pytest

from cantonese import build_dialect_weights

pytestmark = pytest.mark.slow


def test_shipped_weights_reproduce_from_the_build_command(tmp_path, capsys):
    rebuilt = tmp_path / "weights.tsv"
    build_dialect_weights.main(rebuilt)
    assert rebuilt.read_text(encoding="utf-8") == build_dialect_weights.OUTPUT.read_text(encoding="utf-8")
    assert "held-out recall" in capsys.readouterr().out
