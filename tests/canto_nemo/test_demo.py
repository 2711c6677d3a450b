"""The demo's training half (after curation): tokenizers, Megatron data with replay, smoke training, evaluation, the
summary."""

import json
from pathlib import Path

import pytest

from canto_nemo.demo import BLEND_TEMPERATURE, training
from canto_nemo.recipes.blend import temperature_shares


def test_demo_training_half_end_to_end(tmp_path: Path, lihkg_posts, capsys):
    out = tmp_path / "demo_out"
    (out / "curated").mkdir(parents=True)
    (out / "rejects").mkdir()
    with (out / "curated" / "part.jsonl").open("w", encoding="utf-8") as f:
        for n, text in enumerate(lihkg_posts):
            f.write(json.dumps({"id": f"lihkg:{n}", "text": text}, ensure_ascii=False) + "\n")
    written = ["立法會今日舉行會議，討論財政預算案。", "他們在餐廳吃飯，然後回家休息。",
               "這是一個很好的建議，我們會考慮。"]
    with (out / "rejects" / "dialect.jsonl").open("w", encoding="utf-8") as f:
        for n, text in enumerate(written * 400):
            f.write(json.dumps({"id": f"zh:{n}", "stage": "dialect", "reason": "written_chinese", "text": text},
                               ensure_ascii=False) + "\n")
        f.write(json.dumps({"id": "short", "stage": "length", "reason": "too_short", "text": "好"}) + "\n")
    stats = {"documents_in": len(lihkg_posts) + 1201, "documents_out": len(lihkg_posts)}

    assert training(out, steps=40, stats=stats) == 0
    shown = capsys.readouterr().out
    for folder in ("tokenizer", "tokenizer_qwen2.5", "smoke_train"):
        assert (out / folder).is_dir()
    for prefix in ("canto_bpe8k", "canto_qwen2.5", "replay_zh_qwen2.5"):
        manifest = json.loads((out / "megatron" / f"{prefix}_manifest.json").read_text())
        assert manifest["splits"]["train"]["documents"] > 0
    replay = (out / "replay" / "written_chinese.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(replay) == 1200  # the written_chinese rejects only, not the too_short one
    result = json.loads((out / "smoke_train" / "smoke_train.json").read_text())
    assert result["valid_ppl_after"] <= result["valid_ppl_before"] / 2
    # The CPT blend of Cantonese and replay at the demo's temperature, its table on the screen.
    blend = json.loads((out / "megatron" / "blend_cpt.json").read_text())
    tokens = [r["corpus_tokens"] for r in blend["corpora"]]
    assert [r["share"] for r in blend["corpora"]] == pytest.approx(temperature_shares(tokens, BLEND_TEMPERATURE))
    assert sum(r["tokens"] for r in blend["corpora"]) == pytest.approx(sum(tokens), abs=2)
    assert f"blend        T={BLEND_TEMPERATURE:g}" in shown
    assert "validation perplexity" in shown and "| qwen2.5 |" in shown and "replay" in shown
    # It ends by evaluating its own model, before and after training, with lm-eval.
    evaluation = json.loads((out / "eval" / "results.json").read_text(encoding="utf-8"))["models"]
    bpc = [evaluation[m]["tasks"]["cantonese_bpc"]["metrics"]["bits_per_character,none"] for m in ("hf_initial", "hf")]
    assert bpc[1] < bpc[0] and "evaluation   bits per character on ud_hk" in shown
    assert "labels" in evaluation["hf"]["tasks"]["yue_trans_zh_yue"]["fidelity"]
