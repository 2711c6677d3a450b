import pytest

from canto_nemo.curator_stages.config import UnsafeConfigError, build, check_targets
from canto_nemo.curator_stages.quality import CharLengthFilter


def test_project_classes_build():
    built = build({"_target_": "canto_nemo.curator_stages.quality.CharLengthFilter", "min_chars": 3})
    assert isinstance(built, CharLengthFilter) and built.min_chars == 3


@pytest.mark.parametrize(
    "target",
    ["os.system", "builtins.eval", "subprocess.Popen",
     "canto_nemo.curator_stages.config.build",  # a function, not a class
     "nemo_curator.stages.text.io.reader.jsonl.os.system", "canto_nemo.curator_stages.readers.json.loads"],
)
def test_anything_else_is_refused_before_it_runs(target):
    config = {"stages": {"evil": {"_target_": target, "_args_": ["touch /tmp/pwned"]}}}
    with pytest.raises(UnsafeConfigError, match=r"stages\.evil"):
        check_targets(config)
