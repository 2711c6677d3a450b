"""curator_stages.instruct: the instruction-data stages run as Curator stages on real batches (`process`, as an
executor calls it), generation against the project's own OpenAI-compatible server on loopback (tiny model)."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nemo_curator.models.client.llm_client import GenerationConfig
from nemo_curator.models.client.openai_client import OpenAIClient
from nemo_curator.stages.synthetic.nemotron_cc.base import BaseSyntheticStage
from nemo_curator.tasks import DocumentBatch

from canto_nemo.cantonese import PACK
from canto_nemo.cantonese.instruct import refusal_patterns
from canto_nemo.curator_stages import instruct as stages
from canto_nemo.curator_stages.rejects import ScoreFilterWithRejects
from canto_nemo.serving.server import build_app, serving


def batch(rows: list[dict]) -> DocumentBatch:
    b = DocumentBatch(dataset_name="t", data=pd.DataFrame(rows))
    b.task_id = "t0"
    return b


def rejects(folder) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.rglob("*.jsonl")) for line in p.read_text().splitlines()]


def lcs_reference(a: str, b: str) -> int:
    row = [0] * (len(b) + 1)
    for ca in a:
        prev = 0
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if ca == cb else max(row[j], row[j - 1])
    return row[-1]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="我哋係佢嘅咗ab，", max_size=40), st.text(alphabet="我哋係佢嘅咗ab，", max_size=40))
def test_bit_parallel_lcs_is_the_longest_common_subsequence(a, b):
    assert stages.lcs_length(a, b) == lcs_reference(a, b) == stages.lcs_length(b, a)
    assert 0.0 <= stages.rouge_l(a, b) <= 1.0


def test_rouge_l_is_on_characters():
    assert stages.rouge_l("我哋去飲茶", "我 哋 去 飲 茶") == 1.0  # whitespace ignored: Han text has no word spaces
    assert stages.rouge_l("我哋去飲茶", "hello") == 0.0
    assert stages.rouge_l("我哋聽日去飲茶", "我哋今日去飲茶") == pytest.approx(6 / 7)


def test_diversity_rejects_what_is_too_close_to_an_earlier_kept_answer(tmp_path):
    rows = [{"id": "a", "text": "我哋聽日一齊去中環飲茶，食蝦餃燒賣。"},
            {"id": "b", "text": "我哋聽日一齊去中環飲茶，食蝦餃同燒賣。"},
            {"id": "c", "text": "今晚落大雨，記得帶遮出門口。"}]
    stage = stages.DiversityFilter(max_rouge_l=0.7, rejects_path=str(tmp_path))
    kept = stage.process(batch(rows)).to_pandas()
    assert kept["id"].tolist() == ["a", "c"]
    [dropped] = rejects(tmp_path)
    assert (dropped["id"], dropped["stage"], dropped["reason"], dropped["similar_to"]) == \
        ("b", "diversity", "low_diversity", "a")
    assert dropped["detail"].startswith("ROUGE-L 0.9")


def test_near_duplicates_keep_the_smallest_id(tmp_path, lihkg_posts):
    post = next(p for p in lihkg_posts if len(p) > 120)
    rows = [{"id": "z", "text": post}, {"id": "m", "text": post[:-2] + "啦！"},
            {"id": "q", "text": next(p for p in lihkg_posts if len(p) > 120 and p[:20] != post[:20])}]
    stage = stages.NearDuplicateFilter(pack=PACK, rejects_path=str(tmp_path))
    kept = stage.process(batch(rows)).to_pandas()
    assert sorted(kept["id"]) == ["m", "q"]
    [dropped] = rejects(tmp_path)
    assert (dropped["id"], dropped["reason"], dropped["duplicate_of"]) == ("z", "near_duplicate", "m")


def test_refusals_and_echoes_are_found(tmp_path):
    rows = [{"id": "1", "prompt": "「吹水」係咩意思？", "text": "對唔住，我唔可以回答呢個問題。"},
            {"id": "2", "prompt": "「吹水」係咩意思？", "text": "As an AI language model, I cannot help."},
            {"id": "3", "prompt": "「吹水」係咩意思？", "text": "「吹水」係咩意思？"},
            {"id": "4", "prompt": "「吹水」係咩意思？", "text": "吹水即係傾偈、講笑，例如：我哋成晚喺度吹水。"}]
    refusal = ScoreFilterWithRejects(stages.RefusalFilter(refusal_patterns()), text_field="text",
                                     rejects_path=str(tmp_path), name="refusal")
    kept = refusal.process(batch(rows))
    assert kept.to_pandas()["id"].tolist() == ["3", "4"]
    assert {r["id"]: r["reason"] for r in rejects(tmp_path)} == {"1": "refusal", "2": "refusal"}
    echo = stages.EchoScorer(question_field="prompt").process(kept).to_pandas()
    assert echo["echo_score"].tolist()[0] == 1.0 and echo["echo_score"].tolist()[1] < 0.3


@pytest.fixture(scope="module")
def endpoint(tiny_model):
    with serving(build_app(model=str(tiny_model), max_concurrent=2, queue_size=8)) as url:
        yield url


def generator(url: str, model: str, **kw) -> stages.EndpointGenerator:
    client = OpenAIClient(base_url=f"{url}/v1", api_key="none", max_retries=0, timeout=60)
    stage = stages.EndpointGenerator(client=client, model_name=model, input_field="prompt", output_field="text",
                                     generation_config=GenerationConfig(max_tokens=24, temperature=0.8, seed=1), **kw)
    stage.setup(None)
    return stage


def test_generation_is_curators_synthetic_stage_with_an_outcome_per_row(endpoint, tiny_model):
    stage = generator(endpoint, str(tiny_model), system_prompt="用廣東話答。")
    assert isinstance(stage, BaseSyntheticStage)
    rows = [{"id": "1", "prompt": "你好嗎？"}, {"id": "2", "prompt": None}, {"id": "3", "prompt": "點去中環？"}]
    out = stage.process(batch(rows)).to_pandas()
    assert out["text"].map(lambda t: isinstance(t, str) and len(t) > 0).tolist() == [True, False, True]
    assert out[stages.ERROR_FIELD].tolist() == ["", "", ""]
    assert stage.process(batch(rows)).task_id == "t0"  # rejects files are named by it

    wrong = generator(endpoint, "no-such-model").process(batch(rows[:1])).to_pandas()
    assert wrong["text"].isna().all() and "HTTP 404" in wrong[stages.ERROR_FIELD][0]
    assert "does not exist" in wrong[stages.ERROR_FIELD][0]


def test_an_endpoint_that_is_down_stops_the_run(tiny_model):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stage = generator(f"http://127.0.0.1:{port}", str(tiny_model))
    with pytest.raises(stages.EndpointUnreachable, match="could not be reached while generating '1'"):
        stage.process(batch([{"id": "1", "prompt": "你好嗎？"}]))
