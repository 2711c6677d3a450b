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


def test_what_a_user_sets_is_apart_from_what_runs_it(tmp_path):
    """CurationConfig is the schema of conf/curate/config.yaml and checks itself; CurationWorkflow runs one and holds
    what a run makes (its paths, its timings), never an option of its own."""
    from dataclasses import fields

    from canto_nemo.curator_stages.curate_config import CurationConfig, compose
    from canto_nemo.curator_stages.workflow import CurationWorkflow

    composed = compose([f"input={tmp_path}", f"output={tmp_path}/out"])
    assert set(composed) == {f.name for f in fields(CurationConfig)}
    workflow = CurationWorkflow.from_config(composed)
    assert isinstance(workflow.config, CurationConfig) and next(iter(workflow.config.stages)) == "normalize"
    assert not hasattr(workflow, "output_format") and not hasattr(CurationConfig, "run")
    same = CurationWorkflow(input=str(tmp_path), output=str(tmp_path / "out"), pack="cantonese")
    assert same.config.input == [str(tmp_path)] and same.paths == workflow.paths
    with pytest.raises(TypeError, match="not both"):
        CurationWorkflow(same.config, output="elsewhere")
    for bad, message in [({"output": "???"}, "output is missing"), ({"executor": "spark"}, "executor must be one"),
                         ({"output_format": "csv"}, "output_format must be one")]:
        with pytest.raises(ValueError, match=message):
            CurationConfig(**{"input": "x", "output": "out", "pack": "cantonese", **bad})
