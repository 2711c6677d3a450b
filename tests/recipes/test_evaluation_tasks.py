"""The Yue-Benchmark lm-eval tasks: the answer-extraction and fidelity rules on Cantonese responses, every task YAML
loaded by lm-eval's TaskManager, few-shot examples that are not test items, and the whole group run end to end by
lm-eval on the tiny model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import opencc
import pytest

from canto_nemo.recipes.evaluation import scoring

TASKS_DIR = Path(scoring.__file__).parent / "tasks"
ENV = "CANTO_NEMO_YUE_BENCHMARK"
FILES = {"yue_arc_c": "Yue-ARC-C.json", "yue_arc_c_gen": "Yue-ARC-C.json", "yue_gsm8k": "Yue-GSM8K.json",
         "yue_truthfulqa_mc1": "Yue-TruthfulQA.json", "yue_trans_zh_yue": "Yue-TRANS-zh-yue.json",
         "yue_trans_en_yue": "Yue-TRANS-en-yue.json"}
GENERATION = ["yue_arc_c_gen", "yue_gsm8k", "yue_trans_zh_yue", "yue_trans_en_yue"]
SHARES = ["cantonese_share", "simplified_char_share"]


@pytest.mark.parametrize(("response", "number"), [
    ("佢每日賺9×2=18蚊。\n####18", "18"),
    ("佢每日賺9×2=18蚊。\n#### 18", "18"),
    ("所以答案係１８。", "18"),
    ("答案：$2,125。", "2125"),
    ("總共要俾１,４５０,０００蚊", "1450000"),
    ("每人要俾$12.50。", "12.5"),
    ("佢用咗16-3-4=9隻蛋", "9"),  # subtraction, not a negative four
    ("溫度跌到-5度", "-5"),
    ("先計3+4=7，再計7×2=14，所以係14個。", "14"),  # the last number
    ("#### 十個包裝", "10"),
    ("#### 呢個屋邨總共有三百四十八隻寵物。", "348"),
    ("所以佢仲剩9粒糖。\n\n問題：小明有20個蘋果，佢食咗5個，仲有幾多個？", "9"),  # the model's own next question
    ("我唔識計。", None),
])
def test_number_extraction(response, number):
    assert scoring.extract_number(response) == number


def test_final_sentence_prefers_the_number_the_question_did_not_give():
    question = "Mark要整4張狗床同3張貓床，每張狗床要2磅填充物，每張貓床要5磅，總共要幾多磅？"
    assert scoring.extract_number("#### Mark需要23磅填充物先可以整4張狗床同3張貓床。", question) == "23"
    assert scoring.extract_number("####23\n\n(4張狗床同3張貓床)", question) == "23"  # a marked answer wins


def test_gold_numbers():
    assert scoring.gold_number("佢每日係農夫市場賺$9*2=18。####18") == "18"
    assert scoring.gold_number("####1,600") == scoring.canonical_number("1600.00") == "1600"


@pytest.mark.parametrize(("response", "letter"), [
    ("答案係C", "C"),
    ("答案：C", "C"),
    ("答案係：Ｃ，因為行星轉得快咗。", "C"),
    ("我覺得正確嘅係(C)，因為轉得快日就短。", "C"),
    ("我會選C，因為轉得快日就短。", "C"),
    ("揀 B 啦", "B"),
    ("C. 行星嘅日會變得更短。", "C"),
    ("D", "D"),
    ("The correct answer is B. 地球圍繞太陽完成咗一次公轉。", "B"),
    ("According to the theory, the star will:\n\nB. consume its fuel sources more quickly", "B"),
    ("B\n\n問題：邊個係固體？\nA. 水\nB. 空氣\nC. 水蒸氣\nD. 冰\n回應：D", "B"),  # not the model's own question
    ("行星嘅日會變得更短。", "C"),  # the one option whose text it quotes
    ("我唔肯定。", None),
])
def test_choice_extraction(response, letter):
    options = [("A", "行星嘅密度會減少。"), ("B", "行星嘅年會變得更長。"), ("C", "行星嘅日會變得更短。"),
               ("D", "行星嘅重力會變得更強。")]
    assert scoring.extract_choice(response, options) == letter


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
        "exact_match": 1.0, "cantonese_share": 1.0, "simplified_char_share": 0.0}
    wrong = utils.process_gsm8k(doc, ["她每天剩下9个蛋，所以赚20元。"])
    assert wrong["exact_match"] == 0.0 and wrong["cantonese_share"] == 0.0
    assert wrong["simplified_char_share"] == pytest.approx(2 / 11)  # 个 and 赚 of its 11 Han characters
    arc = {"question": "邊樣係固體？", "A": "水", "B": "冰", "C": "蒸氣", "D": None, "answer": "2"}
    assert utils.arc_letters(arc) == ["A", "B", "C"] and utils.arc_gold(arc) == 1
    assert utils.process_arc_gen(arc, ["答案係B，因為冰係固體。"])["exact_match"] == 1.0


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
