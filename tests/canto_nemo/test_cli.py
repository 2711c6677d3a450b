"""The console script: help, detect, and the errors that must come before any work starts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "canto_nemo.cli"]


def run(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, text=True, timeout=600, cwd=cwd)


def test_every_command_has_help():
    assert "curate" in run("--help").stdout
    curate = run("curate", "--help")
    assert curate.returncode == 0 and "_target_: canto_nemo.curator_stages.normalize.Normalizer" in curate.stdout
    assert "stages.clean.emoji=remove" in curate.stdout
    for command in (["tokenizer", "train"], ["tokenizer", "extend"], ["tokenizer", "fertility"], ["megatron-data"],
                    ["smoke-train"], ["resize-embeddings"], ["sweep"], ["sweep", "run"], ["sweep", "rank"], ["dedup"]):
        shown = run(*command, "--help")
        assert shown.returncode == 0 and "usage: canto-nemo" in shown.stdout, command
    assert run("detect", "--help").returncode == 0 and "label" in run("detect", "--help").stdout
    assert "LIHKG" in run("demo", "--help").stdout
    unknown = run("frobnicate")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr


def test_detect_reads_lines_and_jsonl():
    done = run("detect", stdin='佢哋喺度食緊飯\n{"text": "他們在吃飯"}\n\n{"title": 1}\n')
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["cantonese", "written_chinese"]
    assert "line 4" in done.stderr


def test_curate_without_input_or_output_says_so():
    done = run("curate")
    assert done.returncode == 2 and "missing input and output" in done.stderr


def test_missing_input_path_fails_at_once(tmp_path):
    done = run("curate", f"input={tmp_path}/nowhere.jsonl", f"output={tmp_path}/out")
    assert done.returncode == 2 and "input path does not exist" in done.stderr and "nowhere.jsonl" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_config_naming_foreign_code_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "佢哋喺度"}\n', encoding="utf-8")
    marker = tmp_path / "pwned"
    done = run("curate", f"input={tmp_path}/in.jsonl", f"output={tmp_path}/out", "+stages.evil._target_=os.system",
               f"+stages.evil._args_=[touch {marker}]")
    assert done.returncode == 2 and "refused" in done.stderr and "stages.evil" in done.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_a_non_empty_output_folder_is_not_overwritten_silently(tmp_path):
    (tmp_path / "in.jsonl").write_text('{"text": "佢哋喺度"}\n', encoding="utf-8")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    done = run("curate", f"input={tmp_path}/in.jsonl", f"output={tmp_path}/out")
    assert done.returncode == 2 and "overwrite=true" in done.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_dedup_only_runs_read_dedup_write(tmp_path, lihkg_posts):
    """pipeline=none (what `canto-nemo dedup` runs): no modifier or filter; the dialect policy has no stage to set."""
    posts = [p for p in lihkg_posts if len(p) > 100][:20]
    rows = [*posts, posts[0], posts[1] + "（轉載）"]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in rows),
                                       encoding="utf-8")
    for command in (["curate", "pipeline=none"], ["dedup"]):
        out = tmp_path / command[0]
        done = run(*command, f"input={tmp_path}/in.jsonl", f"output={out}")
        assert done.returncode == 0, done.stderr[-3000:]
        stats = json.loads((out / "stats.json").read_text())
        assert [s["stage"] for s in stats["stages"]] == ["read", "exact_dedup", "fuzzy_dedup"]
        rejects = {r["id"]: r for line in (out / "rejects").glob("*.jsonl") for r in map(json.loads, line.open())}
        assert rejects["in.jsonl:21"]["detail"] == "same text as in.jsonl:1 (whitespace aside)"
        assert rejects["in.jsonl:22"]["detail"].startswith("near duplicate of in.jsonl:2 (MinHash estimate")
