"""Decontamination finds planted overlaps with evaluation sets, in every format and in mixed script, and nothing in
clean text."""

import json

import pandas as pd
import pytest
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.decontaminate import Decontaminate, EvalOverlapFilter

QUESTION = "一個天文學家觀察到一個行星喺隕石碰撞後旋轉得更快，呢個旋轉增加最有可能嘅影響係乜嘢？"
SHORT = "你食咗飯未呀"
# Cantonese written with Jyutping and English between its Han characters: 11 Han characters, 17 tokens.
MIXED = "我都唔知你哋咩tei1唔tei1si2，成日講嗰啲angle sum of triangle"
SHORT_MIXED = "用angle-sum-of-triangle嘅咩？"  # 7 tokens, 21 characters


@pytest.fixture
def eval_sets(tmp_path):
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "arc.json").write_text(json.dumps([{"id": "q1", "question": QUESTION, "A": "行星嘅密度會減少。"}],
                                                ensure_ascii=False, indent=2), encoding="utf-8")
    (folder / "ud.conllu").write_text(f"# sent_id = 1\n# text = {SHORT}\n1\t你\t_\t_\t_\t_\t0\troot\t_\t_\n\n",
                                      encoding="utf-8")
    (folder / "mixed.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                                                for t in (MIXED, SHORT_MIXED)), encoding="utf-8")
    (folder / "LICENSE.txt").write_text("Creative Commons Attribution International License\n")
    return folder


def test_planted_overlaps_are_found_and_named(eval_sets):
    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    copied = "今日學咗好多嘢。" + QUESTION[5:30] + "，之後再講。"
    assert overlap.score_document(copied).startswith("eval/arc.json: ")
    from canto_nemo.cantonese.variants import converter

    assert overlap.score_document(copied).split(": ")[1] in converter("t2s").convert(QUESTION)  # folded, Han only
    simplified = "一个天文学家观察到一个行星喺陨石碰撞后旋转得更快"  # another script: still the same text
    assert overlap.score_document(simplified).startswith("eval/arc.json")
    assert overlap.score_document(f"「{SHORT}？」") == "eval/ud.conllu: 你食咗饭未呀"  # a whole short sentence
    assert overlap.reject_reason is not None and overlap.reject_reason("x") == "eval_overlap"


def test_clean_text_and_common_phrases_pass(eval_sets, lihkg_posts):
    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    assert not any(overlap.score_document(p) for p in lihkg_posts[:300])
    long_post = "我哋今日去咗飲茶，" * 3 + SHORT + "，" + "跟住去咗行街買嘢，" * 3  # a short sentence in a long text
    assert overlap.score_document(long_post) == ""
    assert overlap.score_document("International License") == ""  # the LICENSE beside the data is not data


def test_the_stage_writes_eval_overlap_rejects(eval_sets, tmp_path):
    stage = Decontaminate(eval_sets=[str(eval_sets)], pack="cantonese", rejects_path=str(tmp_path / "rejects"))
    texts = ["佢哋喺度食緊飯", QUESTION, f"{SHORT}。"]
    out = stage.process(DocumentBatch(dataset_name="t", data=pd.DataFrame({"id": ["a", "b", "c"], "text": texts})))
    assert out.to_pandas()["id"].tolist() == ["a"]
    rejects = {r["id"]: r for p in (tmp_path / "rejects").glob("*.jsonl") for r in map(json.loads, p.open())}
    assert rejects["b"]["reason"] == rejects["c"]["reason"] == "eval_overlap"
    assert "eval/arc.json" in rejects["b"]["detail"] and "eval/ud.conllu" in rejects["c"]["detail"]
    assert rejects["b"]["detail"].startswith("shares ") and "13 tokens with eval/arc.json: " in rejects["b"]["detail"]


def test_no_sets_keeps_everything_and_a_missing_set_fails_at_once(tmp_path):
    stage = Decontaminate(eval_sets=[], pack="cantonese")
    assert len(stage.process(DocumentBatch(dataset_name="t", data=pd.DataFrame({"id": ["a"], "text": [QUESTION]})))
               .to_pandas()) == 1
    with pytest.raises(FileNotFoundError, match="nowhere"):
        EvalOverlapFilter([str(tmp_path / "nowhere")], "cantonese")


@pytest.mark.slow
def test_curate_drops_what_the_evaluation_sets_hold(shared_data, tmp_path):
    """The demo's setting on real data: CTCPC-like copies of ud_hk sentences go, with the set and span named."""
    import subprocess
    import sys

    ud = [line[9:].strip() for line in (shared_data / "ud_hk" / "yue_hk-ud-test.conllu").open(encoding="utf-8")
          if line.startswith("# text = ") and len(line) > 25][:20]
    rows = [{"text": t} for t in ud] + [{"text": "呢間茶餐廳嘅菠蘿油好好食，我哋聽日再嚟過啦，你話好唔好呀？"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "curate", f"input={tmp_path}/in.jsonl",
                           f"output={tmp_path}/out", f"decontaminate=[{shared_data / 'ud_hk'}]",
                           "stages.length.min_chars=2"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rejects = [json.loads(line) for p in (tmp_path / "out" / "rejects").glob("*.jsonl") for line in p.open()]
    overlaps = [r for r in rejects if r["reason"] == "eval_overlap"]
    assert len(overlaps) == 20 and all("ud_hk/yue_hk-ud-test.conllu" in r["detail"] for r in overlaps)
    curated = [json.loads(line) for p in (tmp_path / "out" / "curated").glob("*.jsonl") for line in p.open()]
    assert [d["text"] for d in curated] == [rows[-1]["text"]]


def test_the_index_is_built_once_per_process_not_per_copy_of_the_stage(eval_sets):
    """Ray Data hands every task a fresh copy of its stage: the index must not be rebuilt for each (0.7 s a task for
    the demo's evaluation sets)."""
    import ray.cloudpickle

    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    copy = ray.cloudpickle.loads(ray.cloudpickle.dumps(overlap))
    assert copy._index() is overlap._index()
    assert copy.score_document("今日學咗好多嘢。" + QUESTION[5:30]).startswith("eval/arc.json: ")
    other = EvalOverlapFilter([str(eval_sets)], "cantonese", ngram=20)
    assert other._index() is not overlap._index()


def test_a_code_mixed_sentence_is_found_by_its_latin_runs_as_tokens(eval_sets):
    """A Latin run (Jyutping, an English word, digits) is one token of the window, as a word is in the 13-gram rule:
    the copy is found though it has fewer than 13 Han characters, in another case, width, spacing and script."""
    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    copy = "樓主講得啱。我都唔知你哋咩 TEI1 唔ｔｅｉ１si2！成日講嗰啲 Angle-Sum of ……"
    assert overlap.score_document(copy) == "eval/mixed.jsonl: 我都唔知你哋咩 tei1 唔 tei1si2 成日讲"
    assert overlap.reject_detail(overlap.score_document(copy)).startswith("shares 13 tokens with eval/mixed.jsonl")
    # 11 tokens of it are not 13, and other words in the same places are another sentence.
    assert overlap.score_document("我都唔知你哋咩tei1唔tei1si2成") == ""
    assert overlap.score_document("我都唔知你哋咩 tei2 唔 tei2si3 成日講嗰啲 angle sum of") == ""


def test_han_only_text_is_tokenised_as_before(eval_sets):
    """Text without Latin runs has one token per Han character, so its windows are the windows it always had."""
    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    assert overlap._normalise(["一個天文學家，觀察到！"]) == ["一个天文学家观察到"]
    (mixed,) = overlap._normalise(["佢哋 Friend 好friend，2019年"])
    assert len(mixed) == 7 and mixed[:2] == "佢哋" and mixed[2] == mixed[4] != mixed[5] and mixed[3::3] == "好年"
    assert overlap._tokens("佢哋 Friend 好friend，2019年") == ["佢", "哋", "friend", "好", "friend", "2019", "年"]


def test_a_short_code_mixed_sentence_counts_inside_a_long_document(eval_sets):
    """Under 13 tokens but 13 characters or more with its Latin letters: no common phrase, so found anywhere; a short
    Han-only sentence still counts only as (nearly) the whole document."""
    overlap = EvalOverlapFilter([str(eval_sets)], "cantonese")
    long_post = "我哋今日去咗飲茶，" * 3 + "老師問：用 Angle-sum-of-triangle 嘅咩？" + "跟住去咗行街買嘢，" * 3
    assert overlap.score_document(long_post) == "eval/mixed.jsonl: 用 angle sum of triangle 嘅咩"
    assert overlap.score_document("我哋今日去咗飲茶，" * 3 + "用angle-sum-of-square嘅咩") == ""
    assert overlap.score_document("我哋今日去咗飲茶，" * 3 + SHORT) == ""
