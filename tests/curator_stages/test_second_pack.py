"""The language-pack boundary holds: a second pack (tests/curator_stages/second_pack, registered through the entry
point like any installed pack) runs the whole curation pipeline and what comes after it (the evaluation's fidelity
metric, the alignment reward, the server's language check), and no stage module imports a pack."""

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


AFTER_CURATION = """
import json, httpx
from canto_nemo.evaluation import scoring
from canto_nemo.alignment.nemo_rl_env import rewards_for
from canto_nemo.serving.server import build_app, serving

answers = ["Mira ka tolen ka.", "Mira tolen vesi.", "Mira ka ſori ka."]
out = {"fidelity": scoring.fidelity(answers, pack="toy"),
       "rewards": rewards_for([[{"role": "assistant", "content": a}] for a in answers], [None] * 3, pack="toy")}
# The server fronting an endpoint that is never called: /v1/dialect is answered by the server itself.
with serving(build_app(endpoint="http://127.0.0.1:9", pack="toy")) as url:
    out["dialect"] = httpx.post(url + "/v1/dialect", json={"text": "Mira ka tolen."}).json()
print(json.dumps(out))
"""


def test_a_second_pack_runs_fidelity_reward_and_the_servers_language_check():
    env = {**os.environ, "PYTHONPATH": str(SECOND_PACK)}
    done = subprocess.run([sys.executable, "-c", AFTER_CURATION], capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    fidelity = out["fidelity"]
    assert fidelity["labels"] == {"toy": 2 / 3, "standard": 1 / 3}
    assert fidelity["cantonese_share"] == 2 / 3  # the share with the pack's target label, named so in results files
    assert 0 < fidelity["simplified_char_share"] < 0.1  # one "ſ" among the third answer's letters
    rewards = out["rewards"]
    assert rewards[1] == 0.5 and rewards[0] > rewards[2] > rewards[1]  # the pack's reward, not Cantonese's
    assert fidelity["dialect_reward"] == sum(rewards) / 3
    assert out["dialect"]["label"] == "toy" and out["dialect"]["simplified_share"] == 0.0
