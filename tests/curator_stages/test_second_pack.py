"""The language-pack boundary holds: a second pack (tests/curator_stages/second_pack, registered through the entry
point like any installed pack) runs the whole curation pipeline, and no stage module imports a pack."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import canto_nemo.curator_stages

SECOND_PACK = Path(__file__).parent / "second_pack"
STAGES = Path(canto_nemo.curator_stages.__file__).parent


def test_no_stage_module_imports_a_pack():
    for path in STAGES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.startswith("canto_nemo.cantonese") for n in names), path.name


@pytest.mark.slow
def test_a_second_pack_runs_the_whole_pipeline(tmp_path):
    lines = [
        {"text": "Mira ka tolen vesi ka, ama sori. Write to mira@example.org"},
        {"text": "Mira tolen vesi, ama sori, kela duna."},  # the standard variety: the toy pack's policy drops it
        {"text": "Mira ka tolen vesi ka, ama sori. Write to mira@example.org"},  # exact duplicate of line 1
        {"text": "MIRA KA TOLEN VESI KA, AMA SORI. WRITE TO MIRA@EXAMPLE.ORG"},  # near duplicate: the pack folds case
    ]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(SECOND_PACK)}
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "curate", "pack=toy", f"output={tmp_path}/out",
                           f"input=[{tmp_path}/in.jsonl,toycorpus:sample]"],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "out"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconciled"] and stats["documents_in"] == 6
    rejects = {r["id"]: r for p in (out / "rejects").glob("*.jsonl") for r in map(json.loads, p.open())}
    assert rejects["in.jsonl:2"]["reason"] == "standard"
    assert rejects["in.jsonl:3"]["reason"] == "exact_duplicate"
    assert rejects["in.jsonl:4"]["reason"] == "near_duplicate" and rejects["in.jsonl:4"]["duplicate_of"] == "in.jsonl:1"
    assert rejects["toycorpus:sample:2"]["reason"] == "standard"
    curated = [json.loads(line) for p in (out / "curated").glob("*.jsonl") for line in p.open()]
    assert sorted(d["id"] for d in curated) == ["in.jsonl:1", "toycorpus:sample:1"]
    assert "<EMAIL>" in next(d["text"] for d in curated if d["id"] == "in.jsonl:1")
    assert {d["dialect_label"] for d in curated} == {"toy"}
