"""The console script's training-data commands end to end on real posts: tokenizer, megatron-data, smoke-train."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "canto_nemo.cli"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def posts(tmp_path_factory, lihkg_posts) -> Path:
    path = tmp_path_factory.mktemp("posts") / "posts.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for n, text in enumerate(lihkg_posts):
            f.write(json.dumps({"id": f"p{n}", "text": text}, ensure_ascii=False) + "\n")
    return path


def test_help_for_each_command():
    for command, marker in (("tokenizer", "fertility"), ("megatron-data", "PREFIX_blend.json"),
                            ("smoke-train", "perplexity"), ("sweep", "AutoConfigurator"),
                            ("resize-embeddings", "import_ckpt")):
        done = run(command, "--help")
        assert done.returncode == 0 and marker in done.stdout
    assert "smoke-train" in run("--help").stdout


def test_train_megatron_data_and_smoke_train(posts, tmp_path):
    tok = tmp_path / "tok"
    done = run("tokenizer", "train", f"corpus={posts}", f"output={tok}", "vocab_size=2000")
    assert done.returncode == 0, done.stderr
    assert json.loads((tok / "canto_tokenizer.json").read_text())["vocab_size"] <= 2000

    done = run("tokenizer", "fertility", f"tokenizers=[qwen2.5,{tok}]", f"text={posts}")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("| tokenizer |") and lines[2].startswith("| qwen2.5 |") and str(tok) in lines[3]

    prefix = tmp_path / "data" / "canto"
    done = run("megatron-data", f"input={posts}", f"tokenizer={tok}", f"output={prefix}", "validation_fraction=0.05")
    assert done.returncode == 0, done.stderr
    manifest = json.loads(Path(f"{prefix}_manifest.json").read_text())
    assert manifest["splits"]["validation"]["documents"] > 0
    assert Path(f"{prefix}_train_text_document.bin").stat().st_size == 2 * manifest["splits"]["train"]["tokens"]

    done = run("smoke-train", f"data={prefix}", f"output={tmp_path / 'smoke'}", "steps=30", "seq_length=64",
               "hidden_size=64", "log_every=10", "lr=3e-3")  # 3e-3: YAML would read it as a string
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "smoke" / "smoke_train.json").read_text())
    assert result["steps"] == 30 and result["valid_ppl_after"] < result["valid_ppl_before"]
    assert "validation perplexity" in done.stdout
    # The trained model as a Hugging Face folder, through NeMo's Llama export: same logits, and it generates.
    assert result["hf_export_max_logit_diff"] < 1e-4
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf = AutoModelForCausalLM.from_pretrained(result["hf"])
    tokenizer = AutoTokenizer.from_pretrained(result["hf"])
    ids = tokenizer("今日好熱", return_tensors="pt").input_ids
    assert hf.generate(ids, max_new_tokens=4, do_sample=False).shape[1] > ids.shape[1]
    assert (tmp_path / "smoke" / "hf_initial" / "config.json").is_file()


def test_bad_arguments_are_named(posts, tmp_path):
    done = run("tokenizer", "train", f"corpus={posts}")
    assert done.returncode == 2 and "missing output=..." in done.stderr
    done = run("tokenizer", "train", f"corpus={posts}", f"output={tmp_path / 'x'}", "vocab=10")
    assert done.returncode == 2 and "unknown option 'vocab'" in done.stderr and "vocab_size" in done.stderr
    done = run("tokenizer", "extend", "base=qwen9", f"corpus={posts}", f"output={tmp_path / 'y'}")
    assert done.returncode == 2 and "no tokenizer at qwen9" in done.stderr
    done = run("megatron-data", f"input={posts}", f"tokenizer={tmp_path / 'none'}", f"output={tmp_path / 'z'}")
    assert done.returncode == 2 and "no tokenizer at" in done.stderr
    done = run("smoke-train", f"data={tmp_path / 'nothing'}", f"output={tmp_path / 's'}")
    assert done.returncode == 2 and "nothing_manifest.json not found" in done.stderr
    done = run("tokenizer", "train", f"corpus={posts}", f"output={tmp_path / 'v'}", "vocab_size=many")
    assert done.returncode == 2 and "vocab_size=many: Value 'many'" in done.stderr and "Integer" in done.stderr
    done = run("smoke-train", f"data={tmp_path / 'nothing'}", f"output={tmp_path / 's'}", "vocab_size=8000")
    assert done.returncode == 2 and "unknown option 'vocab_size'" in done.stderr  # it comes from the manifest
    done = run("sweep", "recipe=cantonese_pretrain", "nodes=1")
    assert done.returncode == 2 and "missing gpus_per_node=... output=..." in done.stderr
    done = run("resize-embeddings", f"base={tmp_path}", f"tokenizer={tmp_path}", f"output={tmp_path / 'r'}")
    assert done.returncode == 2 and "canto_tokenizer.json not found" in done.stderr
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = run("tokenizer", "train", f"corpus={posts}", f"output={blocker / 'out'}")
    assert done.returncode == 2 and "output" in done.stderr and str(blocker) in done.stderr
