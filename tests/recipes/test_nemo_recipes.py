"""The NeMo 2.0 recipe factories, their Hydra composition, the pre-launch checks and the AutoConfigurator sweep (CPU:
building, serialising and dry-running recipes; nothing trains here)."""

from __future__ import annotations

import inspect
import json
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

nemo_run = pytest.importorskip("nemo_run")

from nemo.collections import llm  # noqa: E402
from nemo_run.core.serialization.yaml import YamlSerializer  # noqa: E402
from nemo_run.core.serialization.zlib_json import ZlibJSONSerializer  # noqa: E402

from canto_nemo.recipes import launch  # noqa: E402
from canto_nemo.recipes import nemo_recipes as nr  # noqa: E402
from canto_nemo.recipes import sweep as sw  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NEMO = str(Path(__import__("sys").executable).parent / "nemo")


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory, lihkg_posts) -> Path:
    """What the demo writes for the pretraining recipe: a tokenizer and Megatron data, from real posts."""
    from canto_nemo.recipes import megatron_data, tokenizer

    root = tmp_path_factory.mktemp("demo")
    corpus = root / "posts.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(lihkg_posts)), encoding="utf-8")
    tokenizer.train(str(corpus), str(root / "tokenizer"), vocab_size=3000, progress=lambda s: None)
    megatron_data.build(str(corpus), str(root / "tokenizer"), str(root / "megatron" / "canto_bpe8k"), workers=1,
                        validation_fraction=0.05, progress=lambda s: None)
    return root


def flatten(obj, prefix: str = "") -> dict:
    """A recipe as {dotted path: value}, down through every nested Config and list."""
    import fiddle as fdl

    if isinstance(obj, fdl.Buildable):
        out = {f"{prefix}__fn_or_cls__": obj.__fn_or_cls__}
        for key, value in obj.__arguments__.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    if isinstance(obj, list | tuple):
        out = {f"{prefix}len": len(obj)}
        for i, value in enumerate(obj):
            out.update(flatten(value, f"{prefix}{i}."))
        return out
    return {prefix.rstrip("."): obj}


def differences(ours, theirs) -> set[str]:
    a, b = flatten(ours), flatten(theirs)
    return {k for k in a.keys() | b.keys() if a.get(k, "<unset>") != b.get(k, "<unset>")}


def covered(path: str, allowed: dict) -> bool:
    return any(path == key or path.startswith(key + ".") or (key.endswith(".*") and path.startswith(key[:-1]))
               for key in allowed)


NOT_RESHAPED = {k: v for k, v in nr.OURS.items() if k != "model.config.*"}


@pytest.mark.parametrize(("ours", "theirs", "allowed"), [
    (lambda: nr.cantonese_cpt(num_gpus_per_node=8),
     lambda: llm.qwen25_500m.pretrain_recipe(name="cantonese_cpt", num_gpus_per_node=8), NOT_RESHAPED),
    (lambda: nr.cantonese_cpt(model="llama32_1b", num_nodes=2, num_gpus_per_node=8),
     lambda: llm.llama32_1b.pretrain_recipe(name="cantonese_cpt", num_nodes=2), NOT_RESHAPED),
    (lambda: nr.cantonese_pretrain(num_gpus_per_node=8),
     lambda: llm.llama32_1b.pretrain_recipe(name="cantonese_pretrain", num_gpus_per_node=8), nr.OURS),
    (lambda: nr.cantonese_sft(num_gpus_per_node=8),
     lambda: llm.qwen25_500m.finetune_recipe(name="cantonese_sft", num_gpus_per_node=8), NOT_RESHAPED),
    (lambda: nr.cantonese_sft(model="llama32_1b", peft_scheme="none"),
     lambda: llm.llama32_1b.finetune_recipe(name="cantonese_sft", num_gpus_per_node=1, peft_scheme="none"),
     NOT_RESHAPED),
], ids=["cpt-qwen25_500m", "cpt-llama32_1b", "pretrain-tiny-on-llama32_1b", "sft-lora-qwen25_500m",
        "sft-full-llama32_1b"])
def test_recipes_are_nemos_own_except_where_listed(ours, theirs, allowed):
    """Trainer, strategy (DDP config), precision plugin, optimizer, logging and resume are NeMo's recipe's; only the
    fields `OURS` names (each with its reason) differ."""
    mine, nemo = ours(), theirs()
    changed = differences(mine, nemo)
    assert changed, "nothing of ours was applied"
    assert sorted(p for p in changed if not covered(p, allowed)) == []


def test_clipping_is_the_optimizers_as_in_nemo():
    """bf16's MegatronMixedPrecision refuses trainer-level clipping at the first step: clip only in the optimizer."""
    for recipe in (nr.cantonese_pretrain(), nr.cantonese_cpt(), nr.cantonese_sft()):
        assert recipe.trainer.gradient_clip_val is None
        assert recipe.optim.config.clip_grad == 1.0
        assert recipe.trainer.plugins.__fn_or_cls__.__name__ == "MegatronMixedPrecision"


def test_each_factory_builds_in_nemo_shape():
    pretrain, cpt, sft = nr.cantonese_pretrain(), nr.cantonese_cpt(), nr.cantonese_sft()
    assert isinstance(pretrain, nemo_run.Partial)
    assert pretrain.__fn_or_cls__ is launch.pretrain and cpt.__fn_or_cls__ is launch.pretrain
    assert sft.__fn_or_cls__ is launch.finetune
    assert inspect.signature(launch.pretrain) == inspect.signature(llm.pretrain)
    assert pretrain.data.__fn_or_cls__.__name__ == "PreTrainingDataModule"
    assert sft.data.__fn_or_cls__.__name__ == "ChatDataModule" and sft.data.use_hf_tokenizer_chat_template
    assert cpt.resume.restore_config.path == "demo_out/checkpoints/qwen25_500m_canto"
    assert sft.resume.restore_config.path == "demo_out/checkpoints/qwen25_500m_canto"
    assert cpt.model.config.__fn_or_cls__.__name__ == "Qwen25Config500M"
    assert pretrain.model.config.num_layers == 4  # the tiny default
    assert sft.peft.__fn_or_cls__.__name__ == "LoRA" and nr.cantonese_sft(peft_scheme="none").peft is None


def test_groups_arguments_and_overrides_land_in_the_right_fields():
    p = nr.cantonese_pretrain(model="small_125m", num_gpus_per_node=8, schedule="pretrain", demo_dir="/data/x",
                              overrides="schedule.max_steps=123 data.global_batch_size=64")
    assert (p.model.config.num_layers, p.model.config.hidden_size) == (12, 768)
    assert p.trainer.devices == 8 and p.trainer.max_steps == 123 and p.trainer.num_nodes == 1
    assert p.data.global_batch_size == 64 and p.data.seq_length == 2048 == p.model.config.seq_length
    assert p.data.paths["train"] == ["1.0", "/data/x/megatron/canto_bpe8k_train_text_document"]
    assert p.data.tokenizer.pretrained_model_name == "/data/x/tokenizer"
    assert p.optim.config.lr == 3e-4 and p.optim.lr_scheduler.warmup_steps == 500
    assert p.optim.config.weight_decay == 0.1
    cpt = nr.cantonese_cpt(model="qwen25_1p5b", num_nodes=4, num_gpus_per_node=8, tensor_parallelism=2,
                           sequence_parallelism=True)
    assert cpt.model.config.__fn_or_cls__.__name__ == "Qwen25Config1P5B"
    assert cpt.data.paths["train"] == ["0.8", "demo_out/megatron/canto_qwen2.5_train_text_document",
                                       "0.2", "demo_out/megatron/replay_zh_qwen2.5_train_text_document"]
    assert cpt.optim.config.lr == 3e-5  # continued pretraining: ten times below pretraining
    assert cpt.trainer.strategy.tensor_model_parallel_size == 2 and cpt.trainer.num_nodes == 4
    assert cpt.trainer.strategy.sequence_parallel is True


def test_a_model_outside_the_table_is_refused():
    with pytest.raises(ValueError, match="not one of NeMo's recipes"):
        nr.cantonese_pretrain(overrides="model.recipe=os")


def test_building_a_recipe_reads_no_file(tmp_path):
    """The vocabulary is left to NeMo (it pads the tokenizer's); nothing needs to exist until launch."""
    p = nr.cantonese_pretrain(demo_dir=str(tmp_path / "nowhere"))
    assert p.model.config.vocab_size is None
    assert not (tmp_path / "nowhere").exists()


def test_serialisation_round_trips():
    """NeMo-Run's own serialisation (what it ships to executors) round-trips, and the checked fn keeps its home."""
    for partial in (nr.cantonese_pretrain(), nr.cantonese_cpt(), nr.cantonese_sft()):
        assert ZlibJSONSerializer().deserialize(ZlibJSONSerializer().serialize(partial)) == partial
        assert "_target_: canto_nemo.recipes.launch." in YamlSerializer().serialize(partial)  # what `--to-yaml` writes


def test_a_good_config_passes_the_checks(demo_like):
    p = nr.cantonese_pretrain(overrides=f"demo_dir={demo_like}")
    assert launch.problems(p.model, p.data, p.trainer, available_gpus=1) == []


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: setattr(p.data, "paths", {"train": ["1.0", "/nope/x_text_document"]}), "/nope/x_text_document.bin"),
    (lambda p: setattr(p.model.config, "vocab_size", 1000), "model vocab_size 1000 is smaller than the tokenizer's"),
    (lambda p: setattr(p.data, "seq_length", 1024), "data seq_length 1024 differs from the model's seq_length 2048"),
    (lambda p: (setattr(p.trainer, "devices", 8), setattr(p.data, "global_batch_size", 12)),
     "global_batch_size 12 is not a multiple of micro_batch_size 4 x data parallel 8"),
    (lambda p: (setattr(p.trainer, "devices", 6), setattr(p.trainer.strategy, "tensor_model_parallel_size", 4)),
     "6 GPUs is not a multiple of tensor x pipeline x context parallel = 4 x 1 x 1"),
    (lambda p: (setattr(p.trainer, "devices", 8), setattr(p.trainer.strategy, "tensor_model_parallel_size", 8)),
     "4 attention heads do not split over tensor_parallel 8"),
    (lambda p: (setattr(p.trainer, "devices", 3), setattr(p.trainer.strategy, "pipeline_model_parallel_size", 3),
                setattr(p.data, "global_batch_size", 36)), "4 layers do not split over pipeline_parallel 3"),
    (lambda p: setattr(p.data.tokenizer, "pretrained_model_name", "/nope/tokenizer"), "/nope/tokenizer does not exist"),
])
def test_each_check_fires_on_a_bad_config(demo_like, change, message):
    p = nr.cantonese_pretrain(overrides=f"demo_dir={demo_like}")
    change(p)
    found = launch.problems(p.model, p.data, p.trainer, available_gpus=8)
    assert any(message in f for f in found), found
    with pytest.raises(launch.LaunchCheckError, match="cannot launch"):
        launch.check(p.model, p.data, p.trainer, available_gpus=8)


def test_cpt_takes_a_blend_file_and_the_check_names_each_missing_prefix(demo_like, tmp_path):
    from canto_nemo.recipes.blend import blend

    prefix = str(demo_like / "megatron" / "canto_bpe8k_train_text_document")
    written = blend([prefix], 1000, str(tmp_path / "blend.json"), temperature=1.0, progress=lambda s: None)
    for p in (nr.cantonese_cpt(data=f"blend:{tmp_path / 'blend.json'}", demo_dir=str(demo_like)),
              nr.cantonese_cpt(demo_dir=str(demo_like), overrides=f"data.blend_file={tmp_path / 'blend.json'}")):
        assert p.data.paths["train"] == [str(x) for x in written["paths"]["train"]]
        assert p.data.paths["validation"][1].endswith("canto_bpe8k_validation_text_document")
        assert not [f for f in launch.problems(p.model, p.data, p.trainer, available_gpus=1) if "data prefix" in f]
    gone = json.loads((tmp_path / "blend.json").read_text())
    gone["paths"]["train"] += [0.5, "/nope/replay_train_text_document"]
    (tmp_path / "gone.json").write_text(json.dumps(gone))
    p = nr.cantonese_cpt(data=f"blend:{tmp_path / 'gone.json'}", demo_dir=str(demo_like))
    found = launch.problems(p.model, p.data, p.trainer, available_gpus=1)
    assert [f for f in found if "data prefix" in f] == [
        "data prefix /nope/replay_train_text_document: no /nope/replay_train_text_document.bin or "
        "/nope/replay_train_text_document.idx (run canto-nemo megatron-data, or fix data.blend)"]


def test_cpt_needs_its_base_checkpoint_with_the_vocabulary_nemo_will_pad_to(demo_like):
    p = nr.cantonese_cpt(demo_dir=str(demo_like), overrides=f"data.tokenizer={demo_like}/tokenizer")
    found = launch.problems(p.model, p.data, p.trainer, available_gpus=1, resume=p.resume)
    assert any(f"base checkpoint {demo_like}/checkpoints/qwen25_500m_canto does not exist" in f for f in found)
    assert not any("vocabulary" in f for f in found)  # NeMo pads 3000 tokens to 3072, as the resize did
    p.model.config.make_vocab_size_divisible_by = 2048  # NeMo would pad to 4096: the checkpoint has 3072 rows
    found = launch.problems(p.model, p.data, p.trainer, available_gpus=1, resume=p.resume)
    assert any("the model's vocabulary 4096 does not match the tokenizer's padded vocabulary 3072" in f for f in found)


def test_no_gpu_is_named_before_nemo_fails(demo_like):
    p = nr.cantonese_pretrain(overrides=f"demo_dir={demo_like}")
    found = launch.problems(p.model, p.data, p.trainer, available_gpus=0)
    assert found == ["the recipe wants 1 GPU(s) per node; this node has 0 (llm.pretrain needs CUDA; canto-nemo "
                     "smoke-train is the CPU check)"]


def _nemo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([NEMO, "llm", *args], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.mark.slow
def test_dry_runs_through_the_real_nemo_cli(tmp_path):
    done = _nemo("pretrain", "--factory", "cantonese_pretrain(model='small_125m')", "trainer.max_steps=7",
                 "--dryrun", "-y", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Dry run for task canto_nemo.recipes.launch:pretrain" in done.stdout
    assert "max_steps=7" in done.stdout and "num_layers=12" in done.stdout
    done = _nemo("finetune", "--factory", "cantonese_sft", "--dryrun", "-y", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Dry run for task canto_nemo.recipes.launch:finetune" in done.stdout and "ChatDataModule" in done.stdout
    assert not any(tmp_path.iterdir())  # a dry run touches nothing

    # A sweep candidate's command is a real `nemo llm pretrain` command line.
    rows = sw.generate("cantonese_pretrain", 1, 2, str(tmp_path / "sweep"), sweep="small", progress=lambda s: None)
    spec = yaml.safe_load((tmp_path / "sweep" / f"{rows[-1]['name']}.yaml").read_text())
    command = shlex.split(spec["command"])
    assert command[:3] == ["nemo", "llm", "pretrain"]
    done = _nemo(*command[2:], "--dryrun", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"tensor_model_parallel_size={rows[-1]['tp']}" in done.stdout


def test_autoconfigurator_grid_for_a_small_cluster(tmp_path):
    rows = sw.generate("cantonese_pretrain", 1, 4, str(tmp_path / "sweep"), sweep="small",
                       recipe_overrides=["model=llama32_1b"], progress=lambda s: None)
    grid = sorted((r["tp"], r["micro_batch"]) for r in rows)
    assert grid == [(1, 1), (1, 2), (1, 4), (2, 1), (2, 2), (2, 4)]
    assert all(r["dp"] == 4 // r["tp"] and r["pp"] == 1 and r["global_batch"] == 32 for r in rows)
    by = {(r["tp"], r["micro_batch"]): r["memory_gb"] for r in rows}
    assert by[(1, 1)] < by[(1, 2)] < by[(1, 4)] and by[(2, 4)] < by[(1, 4)]
    table = (tmp_path / "sweep" / "candidates.md").read_text()
    assert table.count("\n| llama_1b_1nodes_tp_") == 6
    for r in rows:
        candidate = sw.load_candidate(str(tmp_path / "sweep" / f"{r['name']}.yaml"))
        assert candidate.trainer.strategy.tensor_model_parallel_size == r["tp"] and candidate.trainer.devices == 4
        assert candidate.data.micro_batch_size == r["micro_batch"] and candidate.trainer.max_steps == 30
        assert candidate.model.config.__fn_or_cls__.__name__ == "Llama32Config1B"
        assert candidate.log.log_dir == str(tmp_path / "sweep" / "logs") and candidate.log.name == r["name"]
        assert candidate.__fn_or_cls__ is launch.pretrain
    with pytest.raises(FileExistsError):
        sw.generate("cantonese_pretrain", 1, 4, str(tmp_path / "sweep"), progress=lambda s: None)
    with pytest.raises(ValueError, match="pretraining recipes"):
        sw.generate("cantonese_sft", 1, 4, str(tmp_path / "other"), progress=lambda s: None)


def test_the_default_sweep_runs_and_impossible_layouts_are_named(tmp_path):
    said = []
    rows = sw.generate("cantonese_pretrain", 2, 8, str(tmp_path / "sweep"), progress=said.append)
    assert rows and all(r["tp"] * r["pp"] * r["cp"] * r["dp"] == 16 for r in rows)
    assert sw.impossible(16, 8, 8, 1, 1, 32) == ("16 GPUs do not divide into tensor x pipeline x context parallel = "
                                                 "8 x 8 x 1")
    assert sw.impossible(16, 1, 1, 1, 4, 32) == "global batch 32 is not a multiple of micro batch 4 x data parallel 16"
    assert sw.impossible(16, 2, 1, 1, 4, 32) is None


def test_rank_reads_the_runs_logs(tmp_path):
    """The ranking plumbing on logs shaped as NeMo writes them (step times made up here: nothing trains on CPU)."""
    from torch.utils.tensorboard import SummaryWriter

    out = tmp_path / "sweep"
    rows = sw.generate("cantonese_pretrain", 1, 4, str(out), sweep="small", recipe_overrides=["model=llama32_1b"],
                       progress=lambda s: None)
    with pytest.raises(FileNotFoundError, match="run the candidates first"):
        sw.rank(str(out), progress=lambda s: None)
    for i, r in enumerate(rows):
        run_dir = out / "logs" / r["name"]
        run_dir.mkdir(parents=True)
        (run_dir / "log-run.out").write_text("training done\n")
        writer = SummaryWriter(str(run_dir))
        for step in range(12):
            writer.add_scalar("train_step_timing in s", 1.0 + 0.25 * i, step)
        writer.close()
    sw.rank(str(out), progress=lambda s: None)
    import pandas as pd

    summary = pd.read_csv(out / "logs" / "final_summary_1nodes.csv")
    assert len(summary) == len(rows)
    assert list(summary["Time per Step"]) == sorted(summary["Time per Step"]) and summary["Time per Step"][0] == 1.0
