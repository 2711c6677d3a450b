"""alignment: instruction data generated through the project's own server on loopback (tiny model), filtered
with every seed accounted for; preference pairs from real Cantonese (kaifangcidian sentences, training data); DPO and
GRPO on TRL for a few steps writing loadable folders; NeMo-RL v0.7.0 configs against its own example configs; the
clear errors (endpoint down, bad seeds, no chat template) that leave nothing behind."""

from __future__ import annotations

import json
import random
import shutil
import socket
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from transformers import AutoModelForCausalLM, AutoTokenizer

from canto_nemo.alignment import nemo_rl
from canto_nemo.alignment.align import dpo, grpo
from canto_nemo.alignment.instruct import instruct
from canto_nemo.alignment.preference import preference
from canto_nemo.cli import main
from canto_nemo.serving.server import build_app, serving
from canto_nemo.vocabulary.mine import build as build_vocab

QUIET = {"progress": lambda s: None}


@pytest.fixture(scope="module")
def endpoint(tiny_model):
    with serving(build_app(model=str(tiny_model), max_concurrent=2, queue_size=16)) as url:
        yield url


@pytest.fixture(scope="module")
def generated(endpoint, tmp_path_factory, lihkg_posts):
    docs = tmp_path_factory.mktemp("docs")
    (docs / "part.jsonl").write_text("".join(json.dumps({"id": f"lihkg-{i}", "text": p}, ensure_ascii=False) + "\n"
                                             for i, p in enumerate(lihkg_posts[:150])), encoding="utf-8")
    vocab = tmp_path_factory.mktemp("vocab") / "out"
    build_vocab(str(docs), str(vocab), max_words=200, **QUIET)  # canto-nemo vocab's folder: words in their sentences
    out = tmp_path_factory.mktemp("instruct") / "out"
    stats = instruct(output=str(out), endpoint=endpoint, lexicon=6, personas=4, documents=str(docs),
                     document_count=3, vocab=str(vocab), vocab_count=2, max_tokens=32, **QUIET)
    return out, stats


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_seeds_to_sft_data_with_every_reject_accounted_for(generated):
    out, stats = generated
    seeds = jsonl(out / "seeds.jsonl")
    assert {s["kind"] for s in seeds} == {"lexicon_explain", "lexicon_use", "persona", "document", "vocabulary"}
    assert any("吹水" in s.get("prompt", "") and "ceoi1 seoi2" in s["prompt"] for s in seeds)
    assert all("粵拼" in s["prompt"] for s in seeds if s["kind"] == "vocabulary")
    kept = [r for name in ("training.jsonl", "validation.jsonl") for r in jsonl(out / "sft" / name)]
    dropped = [r for p in (out / "rejects").glob("*.jsonl") for r in jsonl(p)]
    assert stats["reconciled"] and stats["documents_in"] == len(seeds) == 15
    assert sorted([r["id"] for r in kept] + [r["id"] for r in dropped]) == sorted(s["id"] for s in seeds)
    assert all(r["stage"] and r["reason"] for r in dropped)
    assert sum(sum(s["reasons"].values()) for s in stats["stages"]) == len(dropped)
    for record in kept:
        assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
        assert record["messages"][2]["content"].strip()
    assert (out / "report.html").is_file() and (out / "_SUCCESS").is_file() and not (out / "_work").exists()


def test_an_endpoint_that_is_down_or_a_bad_seeds_file_writes_nothing(tmp_path, endpoint):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=r"not reachable.*canto-nemo serve"):
        instruct(output=str(tmp_path / "down"), endpoint=f"http://127.0.0.1:{port}", **QUIET)
    assert not (tmp_path / "down").exists()
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text('{"prompt": "你好"}\n{"prompt": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"seeds\.jsonl, line 2: not JSON"):
        instruct(output=str(tmp_path / "bad"), endpoint=endpoint, seeds=str(seeds), **QUIET)
    seeds.write_text('{"prompt": "你好"}\n{"id": 3}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: needs a non-empty string `prompt`"):
        instruct(output=str(tmp_path / "bad"), endpoint=endpoint, seeds=str(seeds), **QUIET)
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def cantonese_chats(shared_data, tmp_path_factory) -> Path:
    """60 chat records answering a Cantonese request with a real Cantonese sentence (kfcd pairs)."""
    lines = (shared_data / "dialect_train" / "kfcd_pairs.txt").read_text(encoding="utf-8").splitlines()
    pairs = random.Random(1).sample([line.split("|||")[1:3] for line in lines if line.count("|||") == 2], 60)
    path = tmp_path_factory.mktemp("chats") / "chats.jsonl"
    path.write_text("".join(json.dumps({"id": f"k{i}", "messages": [
        {"role": "user", "content": f"用廣東話講：{zh}"}, {"role": "assistant", "content": yue}]},
        ensure_ascii=False) + "\n" for i, (yue, zh) in enumerate(pairs)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pairs_dir(cantonese_chats, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("preference") / "out"
    preference(sft=str(cantonese_chats), output=str(out), **QUIET)
    return out


def test_preference_pairs_chosen_cantonese_rejected_written_chinese(pairs_dir, cantonese_chats):
    from canto_nemo.cantonese.dialect import detect_dialect_batch

    stats = json.loads((pairs_dir / "stats.json").read_text())
    trl = jsonl(pairs_dir / "trl" / "train.jsonl") + jsonl(pairs_dir / "trl" / "validation.jsonl")
    assert stats["reconciled"] and stats["documents_in"] == 60
    assert len(trl) == stats["documents_out"] >= 30 and stats["pairs"]["validation"] >= 1
    chosen = detect_dialect_batch([p["chosen"][0]["content"] for p in trl])
    rejected = detect_dialect_batch([p["rejected"][0]["content"] for p in trl])
    assert {r.label for r in chosen} == {"cantonese"} and {r.label for r in rejected} == {"written_chinese"}
    assert all(p["prompt"][-1]["role"] == "user" for p in trl)
    nemo = jsonl(pairs_dir / "nemo_rl" / "train.jsonl")[0]
    assert [c["rank"] for c in nemo["completions"]] == [0, 1] and nemo["context"][-1]["role"] == "user"
    grpo_rows = jsonl(pairs_dir / "grpo" / "nemo_rl.jsonl")
    assert len(grpo_rows) == 60 and all(r["input"] and r["messages"][-1]["role"] == "user" for r in grpo_rows)
    dropped = [r for p in (pairs_dir / "rejects").glob("*.jsonl") for r in jsonl(p)]
    assert len(dropped) == 60 - len(trl) and all(r["reason"] for r in dropped)


def loads(folder: Path) -> AutoModelForCausalLM:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template
    return AutoModelForCausalLM.from_pretrained(folder)


def changed(base: Path, trained: Path) -> bool:
    a, b = AutoModelForCausalLM.from_pretrained(base), loads(trained)
    return any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_dpo_runs_a_few_steps_and_writes_a_loadable_folder(pairs_dir, tiny_model, tmp_path):
    summary = dpo(model=str(tiny_model), data=str(pairs_dir), output=str(tmp_path / "dpo"), steps=3, batch_size=4,
                  device="cpu", **QUIET)
    steps = [e for e in summary["log"] if "rewards/margins" in e]
    assert len(steps) == 3 and summary["versions"]["trl"] == "1.16.0"
    assert changed(tiny_model, tmp_path / "dpo" / "model")
    assert json.loads((tmp_path / "dpo" / "align.json").read_text())["method"] == "dpo"
    assert not (tmp_path / "dpo" / "_work").exists()


def test_dpo_sft_weight_adds_the_chosen_answers_nll_and_zero_is_plain_dpo(pairs_dir, tiny_model, tmp_path):
    # At step 1 the policy is its reference, so plain DPO's loss is log 2; the SFT term adds the chosen answers' NLL.
    first = {}
    for weight in (0, 1):
        assert main(["align", "dpo", f"model={tiny_model}", f"data={pairs_dir}", f"output={tmp_path / str(weight)}",
                     "steps=1", "batch_size=4", "device=cpu", f"sft_weight={weight}"]) == 0
        summary = json.loads((tmp_path / str(weight) / "align.json").read_text())
        assert summary["options"]["sft_weight"] == weight
        first[weight] = next(e["loss"] for e in summary["log"] if "loss" in e)
    assert first[0] == pytest.approx(0.6931, abs=1e-3)
    assert first[1] > first[0] + 1.0  # a random model's token NLL is several nats
    with pytest.raises(ValueError, match="sft_weight"):
        dpo(model=str(tiny_model), data=str(pairs_dir), output=str(tmp_path / "bad"), sft_weight=-1, **QUIET)


def test_grpo_runs_a_few_steps_with_the_dialect_reward(pairs_dir, tiny_model, tmp_path):
    summary = grpo(model=str(tiny_model), data=str(pairs_dir), output=str(tmp_path / "grpo"), steps=2, batch_size=4,
                   num_generations=4, max_completion_length=12, learning_rate=1e-3, device="cpu", **QUIET)
    rewards = [e["rewards/dialect_reward/mean"] for e in summary["log"] if "rewards/dialect_reward/mean" in e]
    assert len(rewards) == 2 and all(0.0 < r <= 1.0 for r in rewards)
    loads(tmp_path / "grpo" / "model")
    with pytest.raises(ValueError, match="multiple of num_generations"):
        grpo(model=str(tiny_model), data=str(pairs_dir), output=str(tmp_path / "g2"), batch_size=6, **QUIET)


def test_sft_through_the_cli(cantonese_chats, tiny_model, tmp_path):
    assert main(["align", "sft", f"model={tiny_model}", f"data={cantonese_chats}", f"output={tmp_path / 'sft'}",
                 "steps=2", "batch_size=4", "device=cpu"]) == 0
    assert changed(tiny_model, tmp_path / "sft" / "model")
    assert main(["align", "dpo", f"model={tiny_model}", "data=nowhere", f"output={tmp_path / 'x'}"]) == 2


def test_a_model_without_chat_template_is_refused_before_anything_is_written(pairs_dir, tiny_model, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    (bare / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((bare / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (bare / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="has no chat template"):
        dpo(model=str(bare), data=str(pairs_dir), output=str(tmp_path / "out"), **QUIET)
    assert not (tmp_path / "out").exists()
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        grpo(model=str(tmp_path), data=str(pairs_dir), output=str(tmp_path / "out"), **QUIET)


def flat_keys(node, prefix: str = "") -> set[str]:
    if not isinstance(node, dict):
        return set()
    keys = set()
    for key, value in node.items():
        keys.add(prefix + str(key))
        keys |= flat_keys(value, f"{prefix}{key}.")
    return keys


@pytest.fixture(scope="module")
def reference(shared_data) -> dict[str, dict]:
    """NeMo-RL v0.7.0's own example configs, merged as NeMo-RL does (`defaults:` first), with the Megatron
    backend's own switch-off of the FSDP optimizer (policy.optimizer: null, in its Megatron examples)."""
    root = shared_data / "reference" / "nemo_rl_v0.7.0" / "examples" / "configs"
    grpo_cfg = OmegaConf.merge(OmegaConf.load(root / "grpo_math_1B.yaml"),
                               OmegaConf.load(root / "grpo_math_1B_megatron.yaml"))
    dpo_cfg = OmegaConf.merge(OmegaConf.load(root / "dpo.yaml"),
                              OmegaConf.load(root / "recipes" / "llm" /
                                             "dpo-llama3.1-8b-instruct-4n4g-megatrontp1pp2-quick.yaml"),
                              {"policy": {"optimizer": None}})
    return {name: OmegaConf.to_container(cfg) for name, cfg in (("dpo", dpo_cfg), ("grpo", grpo_cfg))}


@pytest.mark.parametrize("method", ["dpo", "grpo"])
def test_nemo_rl_configs_carry_every_key_of_the_pinned_examples(method, reference):
    ours = OmegaConf.to_container(OmegaConf.load(nemo_rl.config_path(method)))
    missing = flat_keys(reference[method]) - {"defaults"} - flat_keys(ours)
    assert not missing, f"keys of NeMo-RL v0.7.0's example configs missing from ours: {sorted(missing)}"
    assert ours["policy"]["megatron_cfg"]["enabled"] is True and ours["policy"]["dtensor_cfg"]["enabled"] is False
    assert nemo_rl.NEMO_RL_VERSION == "v0.7.0" and nemo_rl.CONTAINER.endswith(":v0.7.0")
    if method == "grpo":
        assert ours["data"]["default"]["env_name"] == "cantonese" and "cantonese" in ours["env"]
    else:
        assert ours["data"]["train"]["dataset_name"] == "PreferenceDataset"


def test_nemo_rl_runs_are_written_with_model_data_and_cluster_filled_in(pairs_dir, tiny_model, tmp_path):
    one = nemo_rl.nemo_rl_run("grpo", str(tiny_model), str(pairs_dir), str(tmp_path / "grpo"), steps=5, **QUIET)
    cfg = OmegaConf.load(tmp_path / "grpo" / "config.yaml")
    assert cfg.policy.model_name == nemo_rl.MODEL_MOUNT and cfg.grpo.max_num_steps == 5
    assert cfg.data.train.data_path == f"{nemo_rl.RUN_MOUNT}/data/prompts.jsonl"
    assert len(jsonl(tmp_path / "grpo" / "data" / "prompts.jsonl")) == 60
    launch = (tmp_path / "grpo" / "launch.sh").read_text()
    assert "nvcr.io/nvidia/nemo-rl:v0.7.0" in launch and "canto_nemo.alignment.nemo_rl_env" in launch
    assert "examples/run_grpo.py" in launch and "convert_megatron_to_hf.py" in launch and "docker run" in one["command"]
    two = nemo_rl.nemo_rl_run("dpo", str(tiny_model), str(pairs_dir), str(tmp_path / "dpo"), nodes=4,
                              gpus_per_node=8, tensor_parallel=4, pipeline_parallel=2, **QUIET)
    cfg = OmegaConf.load(tmp_path / "dpo" / "config.yaml")
    assert (cfg.cluster.num_nodes, cfg.cluster.gpus_per_node) == (4, 8)
    assert (cfg.policy.megatron_cfg.tensor_model_parallel_size, cfg.policy.megatron_cfg.pipeline_model_parallel_size) \
        == (4, 2)
    assert "sbatch --nodes=4 --gres=gpu:8" in two["command"] and "run_dpo.py" in two["command"]
    assert jsonl(tmp_path / "dpo" / "data" / "validation.jsonl")
    with pytest.raises(ValueError, match="does not divide"):
        nemo_rl.nemo_rl_run("dpo", str(tiny_model), str(pairs_dir), str(tmp_path / "x"), gpus_per_node=6,
                            tensor_parallel=4, **QUIET)
    assert not (tmp_path / "x").exists()
