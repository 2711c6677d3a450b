"""The Yue-Benchmark lm-eval tasks: the answer-extraction and fidelity rules on Cantonese responses, every task YAML
loaded by lm-eval's TaskManager, few-shot examples that are not test items, and the whole group run end to end by
lm-eval on the tiny model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import opencc
import pytest

from canto_nemo.evaluation import scoring

TASKS_DIR = Path(scoring.__file__).parent / "tasks"
ENV = "CANTO_NEMO_YUE_BENCHMARK"
FILES = {"yue_arc_c": "Yue-ARC-C.json", "yue_arc_c_gen": "Yue-ARC-C.json", "yue_gsm8k": "Yue-GSM8K.json",
         "yue_truthfulqa_mc1": "Yue-TruthfulQA.json", "yue_trans_zh_yue": "Yue-TRANS-zh-yue.json",
         "yue_trans_en_yue": "Yue-TRANS-en-yue.json"}
GENERATION = ["yue_arc_c_gen", "yue_gsm8k", "yue_trans_zh_yue", "yue_trans_en_yue"]
SHARES = ["cantonese_share", "simplified_char_share"]


# One or more answers in each shape a rule of scoring.NUMBER_RULES reads, written for these tests.
@pytest.mark.parametrize(("response", "number", "rule"), [
    ("佢每日賺9×2=18蚊。\n####18", "18", "####"),
    ("佢每日賺9×2=18蚊。\n#### 18", "18", "####"),
    ("#### $1,450", "1450", "####"),
    ("#### 132湯匙", "132", "####"),
    ("#### 十個", "10", "####"),
    ("####23\n\n(4張狗床同3張貓床)", "23", "####"),  # the marked answer wins over a later line
    ("所以總數係 $\\boxed{72}$。", "72", "boxed"),
    ("答案: 42", "42", "answer statement"),
    ("所以答案係１８。", "18", "answer statement"),  # full-width digits
    ("答案：$2,125。", "2125", "answer statement"),
    ("Each box holds 6, so 3 boxes hold 18.\nThe answer is 18.", "18", "answer statement"),
    ("答案：\n**42**", "42", "answer statement"),
    ("答案係十二個。", "12", "answer statement"),  # Chinese numerals
    ("每人要俾 **15** 蚊\n\n（即係 45 ÷ 3）", "15", "bold number"),
    ("總共 = **42 蚊**", "42", "bold number"),
    ("**步驟 2**：計總數\n所以佢總共有 15 個。", "15", "final sentence"),  # a numbered heading is no answer
    ("####\n首先計 3 + 4 = 7，再計 7 × 2 = 14。\n所以係 14 個。", "14", "final sentence"),  # #### opens the working
    ("#### 佢要俾 42 蚊，因為 6 × 7 = 42。\n多謝！", "42", "final sentence"),  # a sentence after ####
    ("所以佢每日賺 42 蚊。", "42", "final sentence"),
    ("總共要俾１,４５０,０００蚊", "1450000", "final sentence"),
    ("每人要俾$12.50。", "12.5", "final sentence"),
    ("佢用咗16-3-4=9隻蛋", "9", "final sentence"),  # subtraction, not a negative four
    ("溫度跌到-5度", "-5", "final sentence"),
    ("先計3+4=7，再計7×2=14，所以係14個。", "14", "final sentence"),  # the last number
    ("所以佢仲剩9粒糖。\n\n問題：小明有20個蘋果，佢食咗5個，仲有幾多個？", "9", "final sentence"),  # its own question
    ("#### 呢個屋邨總共有三百四十八隻寵物。", "348", "final sentence in Chinese numerals"),
    ("佢總共有十二個蘋果。", "12", "final sentence in Chinese numerals"),
    ("佢一步一步咁行返屋企。", None, "unparseable"),  # 一 alone is an article, not a number
    ("我唔識計。", None, "unparseable"),
])
def test_number_extraction(response, number, rule):
    assert scoring.read_number(response) == (number, rule)
    assert scoring.extract_number(response) == number


def test_the_question_given_quantity_is_not_the_answer_of_a_final_sentence():
    question = "3個人夾錢買一個$45嘅蛋糕，每人要俾幾多錢？"
    assert scoring.read_number("每人要俾15蚊（45 ÷ 3）", question) == ("15", "final sentence")


def test_final_sentence_prefers_the_number_the_question_did_not_give():
    question = "Mark要整4張狗床同3張貓床，每張狗床要2磅填充物，每張貓床要5磅，總共要幾多磅？"
    assert scoring.extract_number("#### Mark需要23磅填充物先可以整4張狗床同3張貓床。", question) == "23"
    assert scoring.extract_number("####23\n\n(4張狗床同3張貓床)", question) == "23"  # a marked answer wins


def test_gold_numbers():
    assert scoring.gold_number("佢每日係農夫市場賺$9*2=18。####18") == "18"
    assert scoring.gold_number("####1,600") == scoring.canonical_number("1600.00") == "1600"


OPTIONS = [("A", "行星嘅密度會減少。"), ("B", "行星嘅年會變得更長。"), ("C", "行星嘅日會變得更短。"),
           ("D", "行星嘅重力會變得更強。")]


# One or more answers in each shape a rule of scoring.CHOICE_RULES reads, written for these tests.
@pytest.mark.parametrize(("response", "letter", "rule"), [
    ("D", "D", "leading letter"),
    ("C. 行星嘅日會變得更短。", "C", "leading letter"),
    ("**D** 因為重力同自轉冇關係。", "D", "leading letter"),
    ("(B) 行星嘅年會變得更長", "B", "leading letter"),
    ("B\n\n問題：邊個係固體？\nA. 水\nB. 空氣\nC. 水蒸氣\nD. 冰\n回應：D", "B", "leading letter"),  # its own question
    ("The answer is **C. 行星嘅日會變得更短。**", "C", "answer statement"),
    ("The correct answer is C", "C", "answer statement"),
    ("答案係 (B)", "B", "answer statement"),
    ("答案：Ｃ", "C", "answer statement"),  # full width
    ("正確答案應該係C，因為轉得快日就短。", "C", "answer statement"),
    ("Option A is about density, which a collision does not change much. So the answer would be option (C).", "C",
     "answer statement"),  # the stated answer, not the first option discussed
    ("我揀 D", "D", "choice statement"),
    ("我會選C，因為轉得快日就短。", "C", "choice statement"),
    ("I'd pick (B) here.", "B", "choice statement"),
    ("According to the theory, the star will:\n\nB. consume its fuel sources more quickly", "B",
     "option on its own line"),
    ("我覺得正確嘅係(C)，因為轉得快日就短。", "C", "bracketed letter"),
    ("行星嘅日會變得更短。", "C", "option text"),
    ("轉得快，一日嘅時間就短咗。密度同重力都唔會變。\n\n所以係 C。", "C", "final letter"),
    ("A faster spin means a shorter day, while density and gravity stay the same.\n\nSo: C", "C", "final letter"),
    ("我唔肯定。", None, "unparseable"),
    ("可能係 A，亦可能係 C。", None, "unparseable"),  # two letters name no answer
])
def test_choice_extraction(response, letter, rule):
    assert scoring.read_choice(response, OPTIONS) == (letter, rule)
    assert scoring.extract_choice(response, OPTIONS) == letter


def test_an_option_text_inside_another_reads_the_longer_and_the_letters_are_the_items():
    options = [("A", "水"), ("B", "水蒸氣"), ("C", "冰")]
    assert scoring.read_choice("應該係水蒸氣。", options) == ("B", "option text")
    assert scoring.read_choice("我揀 D", options) == (None, "unparseable")  # the item has no D
    assert scoring.read_choice("答案係E", [*options, ("D", "雪"), ("E", "霧")]) == ("E", "answer statement")
    # An answer that restates the question quotes what the question holds, and picks nothing by it.
    question = "25克鹽加入1000克水，混合物嘅質量係幾多？"
    grams = [("A", "25克"), ("B", "1000克"), ("C", "1025克"), ("D", "975克")]
    assert scoring.read_choice(f"題目話{question}\n\n所以係 C。", grams, question) == ("C", "final letter")
    assert scoring.read_choice(f"題目話{question}", grams, question) == (None, "unparseable")


def test_fidelity_measures():
    assert scoring.simplified_char_share("佢哋係我嘅朋友") == 0.0
    assert scoring.simplified_char_share("他们是我的朋友") == pytest.approx(1 / 7)  # 们
    assert scoring.simplified_char_share("这个东西") == 0.75  # 西 is common to both scripts
    assert scoring.simplified_char_share("ABC 123") == 0.0
    labels = scoring.dialect_labels(["佢哋而家喺度食緊飯，好開心呀。", "他們正在吃飯，非常開心。"])
    assert labels[0] == "cantonese" and labels[1] == "written_chinese"


@pytest.fixture(scope="module")
def utils():
    """tasks/utils.py, loaded by path as lm-eval loads it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("yue_task_utils", TASKS_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_per_sample_metrics_of_known_responses(utils):
    doc = {"question": "Janet每日有16隻蛋，食3隻，用4隻，餘下每隻賣$2，佢每日賺幾多錢？",
           "answer": "Janet每日賣16-3-4=9隻鴨蛋。佢每日係農夫市場賺$9*2=18。####18"}
    assert utils.process_gsm8k(doc, ["佢每日剩低16-3-4=9隻蛋，賣9×2=18蚊。\n####１８"]) == {
        "exact_match": 1.0, "unparseable": 0.0, "cantonese_share": 1.0, "simplified_char_share": 0.0}
    assert utils.process_gsm8k(doc, ["我唔識計呀。"])["unparseable"] == 1.0
    wrong = utils.process_gsm8k(doc, ["她每天剩下9个蛋，所以赚20元。"])
    assert wrong["exact_match"] == 0.0 and wrong["cantonese_share"] == 0.0
    assert wrong["simplified_char_share"] == pytest.approx(2 / 11)  # 个 and 赚 of its 11 Han characters
    arc = {"question": "邊樣係固體？", "A": "水", "B": "冰", "C": "蒸氣", "D": None, "answer": "2"}
    assert utils.arc_letters(arc) == ["A", "B", "C"] and utils.arc_gold(arc) == 1
    assert utils.process_arc_gen(arc, ["答案係B，因為冰係固體。"])["exact_match"] == 1.0
    unreadable = utils.process_arc_gen(arc, ["我唔肯定。"])
    assert unreadable["exact_match"] == 0.0 and unreadable["unparseable"] == 1.0


def test_translation_scores_work_on_chinese(utils):
    import sacrebleu

    pairs = [("佢哋聽日去飲茶", "佢哋今日去飲茶"), ("我好鍾意食雞蛋仔", "我好鍾意食雞蛋仔")]
    assert utils.corpus_chrf([pairs[1]]) == pytest.approx(100) and utils.corpus_bleu([pairs[1]]) == pytest.approx(100)
    # sacrebleu's default tokenizer sees each sentence as one word, so a near miss scores 0; the zh one does not.
    assert sacrebleu.corpus_bleu(["佢哋今日去飲茶"], [["佢哋聽日去飲茶"]]).score == 0
    assert 0 < utils.corpus_bleu(pairs) < 100 and 0 < utils.corpus_chrf(pairs) < 100


@pytest.fixture
def benchmark(shared_data, monkeypatch) -> Path:
    folder = shared_data / "yue_benchmark"
    monkeypatch.setenv(ENV, str(folder))
    return folder


def task_manager():
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def test_every_task_yaml_loads_with_all_its_items(benchmark):
    manager = task_manager()
    assert set(FILES) | {"yue_benchmark"} <= set(manager.all_tasks)
    tasks = manager.load(["yue_benchmark"])["tasks"]
    assert set(tasks) == set(FILES)
    for name, task in tasks.items():
        items = json.loads((benchmark / FILES[name]).read_text(encoding="utf-8"))
        assert len(task.test_docs()) == len(items), name


def test_fewshot_examples_are_not_test_items(benchmark):
    """The benchmark's own 5-shot draws neighbouring test items; ours are written for the tasks (zh->yue: KFCD
    training pairs, their written side in Simplified)."""
    tasks = task_manager().load(list(FILES))["tasks"]
    t2s = opencc.OpenCC("t2s")
    kfcd = {tuple(line.split("|||")[1:]) for line in
            (benchmark.parent / "dialect_train" / "kfcd_pairs.txt").read_text(encoding="utf-8").splitlines()}
    for name, task in tasks.items():
        shots = task.fewshot_docs()
        assert len(shots) >= 5, name
        items = json.loads((benchmark / FILES[name]).read_text(encoding="utf-8"))
        for key in ("question", "en", "yue"):
            test_texts = {item[key] for item in items if key in item}
            assert not test_texts & {shot[key] for shot in shots if key in shot}, (name, key)
        if name == "yue_trans_zh_yue":
            assert all(any(yue == shot["yue"] and t2s.convert(written) == shot["en"] for yue, written in kfcd)
                       for shot in shots)


def test_missing_data_folder_names_the_path_and_the_variable(tmp_path, monkeypatch):
    missing = tmp_path / "no_benchmark_here"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing)) + ".*" + ENV):
        task_manager().load(["yue_gsm8k"])


def test_missing_data_file_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "Yue-ARC-C.json"))):
        task_manager().load(["yue_arc_c"])


def evaluate(model: Path, tasks: list[str], **kwargs) -> dict:
    import lm_eval

    return lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={model},dtype=float32", tasks=tasks,
                                   task_manager=task_manager(), device="cpu", batch_size=2, bootstrap_iters=0,
                                   gen_kwargs="max_gen_toks=16", **kwargs)  # a random model only babbles


def test_the_group_runs_end_to_end(tiny_model, benchmark):
    results = evaluate(tiny_model, ["yue_benchmark"], limit=2)["results"]
    for name in ("yue_arc_c", "yue_truthfulqa_mc1"):
        assert 0 <= results[name]["acc,none"] <= 1
    for name in GENERATION:
        for metric in SHARES:
            assert 0 <= results[name][f"{metric},none"] <= 1, (name, metric)
    for name in ("yue_arc_c_gen", "yue_gsm8k"):
        assert results[name]["exact_match,none"] in (0, 0.5, 1)
        assert results[name]["unparseable,none"] in (0, 0.5, 1)
    for name in ("yue_trans_zh_yue", "yue_trans_en_yue"):
        assert 0 <= results[name]["chrf,none"] <= 100 and 0 <= results[name]["bleu,none"] <= 100
    for metric in SHARES:
        assert 0 <= results["yue_benchmark"][f"{metric},none"] <= 1


def test_fewshot_chat_prompts_hold_our_examples(tiny_model, benchmark):
    out = evaluate(tiny_model, ["yue_gsm8k", "yue_trans_zh_yue"], limit=1, num_fewshot=2, apply_chat_template=True)
    gsm8k = out["samples"]["yue_gsm8k"][0]["arguments"][0][0]
    assert "阿明有24粒糖" in gsm8k and "####9" in gsm8k and "<|im_start|>assistant" in gsm8k
    translation = out["samples"]["yue_trans_zh_yue"][0]["arguments"][0][0]
    assert "他骗了我很多钱" in translation and "佢呃咗我好多錢" in translation
    assert 0 <= out["results"]["yue_gsm8k"]["exact_match,none"] <= 1
