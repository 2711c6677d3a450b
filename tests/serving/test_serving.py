"""serving: the OpenAI-compatible server, run for real (uvicorn on a free loopback port) on the tiny random
Qwen2 folder, driven with the `openai` client, raw HTTP where a client would never send such a request, and lm-eval's
local-completions; its answers checked against transformers itself."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import openai
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from canto_nemo.serving.generation import Engine
from canto_nemo.serving.server import build_app, serving

CODE_SWITCHED = "我聽朝要submit個report，點寫好？"
KEY = "test-key-0123"


@pytest.fixture(scope="module")
def server(tiny_model):
    with serving(build_app(model=str(tiny_model), max_concurrent=2, queue_size=4)) as url:
        yield url


@pytest.fixture(scope="module")
def guarded(tiny_model):
    """A server with an API key and tight limits: one generation at a time, one waiting, small prompts and bodies."""
    app = build_app(model=str(tiny_model), api_key=KEY, max_concurrent=1, queue_size=1, max_prompt_tokens=64,
                    max_tokens_limit=1500, max_body_bytes=20_000)
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def hf(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model), AutoModelForCausalLM.from_pretrained(tiny_model).eval()


def client(url: str, key: str = "none") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def model_id(url: str) -> str:
    return httpx.get(f"{url}/v1/models").json()["data"][0]["id"]


def test_models_and_health(server, tiny_model):
    models = client(server).models.list()
    assert [m.id for m in models.data] == [str(tiny_model)]
    health = httpx.get(f"{server}/health").json()
    assert health["status"] == "ok" and health["device"] == "cpu" and health["limits"]["context_length"] == 2048


def test_greedy_completion_is_what_transformers_generates(server, hf):
    tok, model = hf
    ids = tok(CODE_SWITCHED).input_ids
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=24, do_sample=False)
    # transformers shows bytes that never become a character as U+FFFD; the server drops them
    expected = tok.decode(out[0, len(ids):], skip_special_tokens=True).replace("\ufffd", "")
    c = client(server)
    for prompt in (CODE_SWITCHED, ids):  # as text and as token ids
        answer = c.completions.create(model=model_id(server), prompt=prompt, max_tokens=24, temperature=0)
        assert answer.choices[0].text == expected
        assert answer.usage.prompt_tokens == len(ids) and answer.usage.completion_tokens == out.shape[1] - len(ids)


def test_echo_logprobs_are_the_models(server, hf):
    """echo=true, max_tokens=0: the prompt's own tokens with their log-probabilities, as lm-eval scores them."""
    tok, model = hf
    ids = tok(CODE_SWITCHED).input_ids
    answer = client(server).completions.create(model=model_id(server), prompt=CODE_SWITCHED, max_tokens=0,
                                               echo=True, logprobs=1, temperature=0)
    choice = answer.choices[0]
    with torch.no_grad():
        expected = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
    lp = choice.logprobs
    assert choice.text == CODE_SWITCHED and len(lp.tokens) == len(ids)
    assert lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    for i in range(1, len(ids)):
        assert lp.token_logprobs[i] == pytest.approx(float(expected[i - 1, ids[i]]), abs=1e-4)
        assert list(lp.top_logprobs[i].values()) == [pytest.approx(float(expected[i - 1].max()), abs=1e-4)]
    assert lp.text_offset == sorted(lp.text_offset) and lp.text_offset[-1] < len(CODE_SWITCHED)
    assert any(t.startswith("bytes:") for t in lp.tokens)  # 朝 is two tokens: neither is a character alone
    assert "".join(t for t in lp.tokens if not t.startswith("bytes:")).replace("朝", "") == \
        CODE_SWITCHED.replace("朝", "")


def test_streamed_echo_never_splits_a_character(server):
    """Each prompt token is a chunk of its own (logprobs): the first half of 朝 lets out "" and the second 朝."""
    chunks = list(client(server).completions.create(model=model_id(server), prompt=CODE_SWITCHED, max_tokens=0,
                                                    echo=True, logprobs=0, stream=True))
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert "".join(texts) == CODE_SWITCHED
    assert "" in texts and "朝" in texts and not any("\ufffd" in t for t in texts)


@pytest.mark.parametrize("sampling", [{"temperature": 0}, {"temperature": 1.0, "top_p": 0.95, "seed": 7}],
                         ids=["greedy", "seeded"])
@pytest.mark.parametrize("route", ["completions", "chat"])
def test_stream_is_the_answer_in_pieces(server, route, sampling):
    c, model = client(server), model_id(server)
    if route == "completions":
        def ask(**kw):
            return c.completions.create(model=model, prompt=CODE_SWITCHED, max_tokens=48, **sampling, **kw)

        def text(chunk):
            return chunk.choices[0].text
    else:
        def ask(**kw):
            return c.chat.completions.create(model=model, messages=[{"role": "user", "content": CODE_SWITCHED}],
                                             max_tokens=48, **sampling, **kw)

        def text(chunk):
            return chunk.choices[0].delta.content or ""
    whole = ask()
    expected = whole.choices[0].text if route == "completions" else whole.choices[0].message.content
    chunks = list(ask(stream=True, stream_options={"include_usage": True}))
    pieces = [text(ch) for ch in chunks if ch.choices]
    assert "".join(pieces) == expected and expected
    assert not any("\ufffd" in p for p in pieces)
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == whole.choices[0].finish_reason
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    if "seed" in sampling:  # sampled text is Han characters of several tokens each: the stream held them back
        assert any(ord(ch) > 0x2E80 for ch in expected)


def test_stop_strings_cut_the_answer_in_stream_and_whole(server):
    c, model = client(server), model_id(server)
    ask = {"model": model, "prompt": CODE_SWITCHED, "max_tokens": 40, "temperature": 1.0, "seed": 3}
    free = c.completions.create(**ask).choices[0].text
    stop = free[len(free) // 2:len(free) // 2 + 2]
    cut = c.completions.create(**ask, stop=[stop, "never there"])
    assert cut.choices[0].text == free[:free.index(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(**ask, stop=[stop], stream=True))
    assert streamed == cut.choices[0].text


def test_chat_uses_the_template_and_its_end_of_turn(server, hf, tiny_model):
    tok, _ = hf
    assert Engine(str(tiny_model)).end_of_turn == {tok.convert_tokens_to_ids("<|im_end|>")}  # a stop token in chat
    messages = [{"role": "system", "content": "請用廣東話回答。"}, {"role": "user", "content": CODE_SWITCHED}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True)
    answer = client(server).chat.completions.create(model=model_id(server), messages=messages, max_tokens=8,
                                                    temperature=0, logprobs=True, top_logprobs=2)
    assert answer.usage.prompt_tokens == len(ids)
    content = answer.choices[0].logprobs.content
    assert len(content) == answer.usage.completion_tokens and all(len(e.top_logprobs) == 2 for e in content)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def test_bad_requests_get_openai_errors_and_the_server_lives_on(guarded):
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    url = f"{guarded}/v1/completions"
    model = httpx.get(f"{guarded}/v1/models", headers=headers).json()["data"][0]["id"]

    with pytest.raises(openai.AuthenticationError) as err:
        client(guarded, key="wrong").completions.create(model=model, prompt="hi")
    assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    assert httpx.get(f"{guarded}/v1/models").status_code == 401  # no key at all
    assert httpx.post(url, content=b'{"model": ').status_code == 401  # refused before the body is read

    bad_json = httpx.post(url, content=b'{"model": "x", "prompt": ', headers=headers)
    assert bad_json.status_code == 400 and "JSON" in error_of(bad_json)["message"]
    not_an_object = httpx.post(url, content=b"[1, 2]", headers=headers)
    assert not_an_object.status_code == 400 and error_of(not_an_object)

    c = client(guarded, key=KEY)
    cases = {"unknown field": ({"prompt": "hi", "extra_body": {"bogus": 1}}, "bogus"),
             "wrong type": ({"prompt": "hi", "extra_body": {"max_tokens": "ten"}}, "max_tokens"),
             "wrong type in a union": ({"prompt": 42}, "prompt"),
             "out of range": ({"prompt": "hi", "temperature": 7}, "temperature"),
             "too many tokens asked": ({"prompt": "hi", "max_tokens": 1600}, "max_tokens"),
             "prompt too long": ({"prompt": CODE_SWITCHED * 10}, "prompt"),
             "empty prompt": ({"prompt": ""}, "prompt"),
             "token id out of the vocabulary": ({"prompt": [5, 10 ** 6]}, "prompt"),
             "unsupported option": ({"prompt": "hi", "presence_penalty": 1.0}, "presence_penalty")}
    for case, (kwargs, param) in cases.items():
        with pytest.raises(openai.BadRequestError) as err:
            c.completions.create(model=model, **kwargs)
        assert err.value.status_code == 400 and err.value.body["param"] == param, case
    with pytest.raises(openai.NotFoundError):
        c.completions.create(model="gpt-4o", prompt="hi")

    oversize = httpx.post(url, headers=headers, content=json.dumps({"model": model, "prompt": "字" * 20_000}))
    assert oversize.status_code == 413 and error_of(oversize)["code"] == "request_too_large"
    assert httpx.get(f"{guarded}/nowhere").status_code == 404

    assert httpx.get(f"{guarded}/health").json()["status"] == "ok"
    assert c.completions.create(model=model, prompt="hi", max_tokens=2).choices[0].finish_reason


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def health(url: str) -> dict:
    return httpx.get(f"{url}/health").json()


def long_stream(url: str, model: str, started: threading.Event, release: threading.Event) -> None:
    """A streaming request that reads one chunk, then holds the connection until `release`, then hangs up. Its
    generation takes seconds (16 answers of 1,400 tokens one after another), so it is still going when it does."""
    body = {"model": model, "prompt": "今日", "n": 16, "max_tokens": 1400, "ignore_eos": True, "stream": True}
    with httpx.stream("POST", f"{url}/v1/completions", json=body, headers={"Authorization": f"Bearer {KEY}"},
                      timeout=120) as response:
        assert response.status_code == 200
        lines = response.iter_lines()  # kept: a dropped iterator closes the connection
        next(lines)
        started.set()
        release.wait(60)


def test_a_client_that_leaves_frees_its_slot_and_stops_its_generation(guarded):
    model = httpx.get(f"{guarded}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"]
    before = health(guarded)["served"]
    started, release = threading.Event(), threading.Event()
    reader = threading.Thread(target=long_stream, args=(guarded, model, started, release))
    reader.start()
    assert started.wait(60)
    assert health(guarded)["running"] == 1
    release.set()
    reader.join()
    wait_for(lambda: health(guarded)["running"] == 0)
    after = health(guarded)["served"]
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["generated_tokens"] - before["generated_tokens"] < 16 * 1400  # stopped, not finished


def test_a_full_queue_answers_503_with_retry_after_then_recovers(guarded):
    model = httpx.get(f"{guarded}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"]
    c = client(guarded, key=KEY)
    release = threading.Event()
    first, second = threading.Event(), threading.Event()
    readers = [threading.Thread(target=long_stream, args=(guarded, model, e, release)) for e in (first, second)]
    readers[0].start()
    assert first.wait(60)
    readers[1].start()  # waits in the queue: its response does not start yet
    wait_for(lambda: health(guarded)["waiting"] == 1)
    with pytest.raises(openai.APIStatusError) as err:
        c.completions.create(model=model, prompt="hi", max_tokens=2)
    assert err.value.status_code == 503 and err.value.response.headers["Retry-After"] == "1"
    assert err.value.body["code"] == "overloaded"
    release.set()  # the first hangs up; the second gets its slot, reads a chunk and hangs up too
    for reader in readers:
        reader.join()
    assert second.is_set()
    wait_for(lambda: health(guarded)["running"] == health(guarded)["waiting"] == 0)
    assert c.completions.create(model=model, prompt="hi", max_tokens=2).choices[0].text is not None


def test_a_model_without_chat_template_refuses_chat_clearly(tiny_model, tmp_path):
    folder = tmp_path / "base"
    shutil.copytree(tiny_model, folder, ignore=shutil.ignore_patterns("chat_template.jinja"))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with serving(build_app(model=str(folder))) as url:
        c = client(url)
        with pytest.raises(openai.BadRequestError) as err:
            c.chat.completions.create(model=str(folder), messages=[{"role": "user", "content": "你好"}])
        assert err.value.body["code"] == "no_chat_template" and "chat template" in err.value.body["message"]
        assert c.completions.create(model=str(folder), prompt="你好", max_tokens=2).choices[0].finish_reason


def test_dialect_route(server):
    from canto_nemo.cantonese import detect_dialect

    text = "佢哋聽朝要submit個report，你嚟唔嚟幫手呀？"  # the route answers what the pack's judge says
    cantonese = httpx.post(f"{server}/v1/dialect", json={"text": text}).json()
    assert cantonese["label"] == detect_dialect(text).label == "cantonese" and cantonese["simplified_share"] == 0
    simplified = httpx.post(f"{server}/v1/dialect", json={"text": "我明天要提交报告，怎么写好？"}).json()
    assert simplified["label"] == "written_chinese" and simplified["simplified_share"] > 0.2
    assert httpx.post(f"{server}/v1/dialect", json={"text": "hello"}).json()["simplified_share"] is None
    assert httpx.post(f"{server}/v1/dialect", json={"txt": "x"}).status_code == 400


def test_proxy_mode_forwards_to_another_endpoint(server):
    with serving(build_app(endpoint=f"{server}/v1")) as front:
        direct, proxied = client(server), client(front)
        model = model_id(server)
        assert [m.id for m in proxied.models.list().data] == [model]
        ask = {"model": model, "messages": [{"role": "user", "content": CODE_SWITCHED}], "max_tokens": 24,
               "temperature": 1.0, "seed": 11}
        expected = direct.chat.completions.create(**ask).choices[0].message.content
        streamed = "".join(ch.choices[0].delta.content or "" for ch in proxied.chat.completions.create(
            **ask, stream=True) if ch.choices)
        assert streamed == expected
        with pytest.raises(openai.BadRequestError) as err:  # the endpoint's own error, passed on
            proxied.completions.create(model=model, prompt="hi", extra_body={"bogus": 1})
        assert err.value.body["param"] == "bogus"
        assert httpx.post(f"{front}/v1/dialect", json={"text": "佢哋琴日去咗銅鑼灣。"}).json()["label"] == "cantonese"
        assert health(front)["status"] == "ok"
    with serving(build_app(endpoint="http://127.0.0.1:9/v1")) as dead:  # nothing listens on port 9
        answer = httpx.get(f"{dead}/v1/models")
        assert answer.status_code == 502 and error_of(answer)["code"] == "bad_gateway"
        assert httpx.get(f"{dead}/health").status_code == 503


MC_DOCS = [
    {"question": "香港嘅首都係邊度？", "choices": ["冇首都", "北京", "倫敦"], "answer": 0},
    {"question": "「食咗飯未」係咩意思？", "choices": ["你食咗飯未呀", "今日落雨", "我好攰"], "answer": 0},
    {"question": "submit個report即係點？", "choices": ["交報告", "寫日記", "睇戲"], "answer": 0},
    {"question": "銅鑼灣喺邊？", "choices": ["香港島", "九龍", "新界"], "answer": 0},
]


@pytest.mark.parametrize("tokenizer", ["remote", "folder"])
def test_lm_eval_local_completions_scores_multiple_choice(server, hf, tiny_model, tmp_path, monkeypatch, tokenizer):
    """lm-eval's local-completions against the server, tokenizing there (its default, tokenizer_backend=auto, finds
    /tokenizer_info and /tokenize) or with the model folder's tokenizer; every loglikelihood it got is the model's."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in MC_DOCS), encoding="utf-8")
    (tmp_path / "canto_serve_mc.yaml").write_text(
        "task: canto_serve_mc\ndataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {docs}\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "問題：{{question}}\\n答案："\ndoc_to_choice: choices\ndoc_to_target: answer\n'
        "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n", encoding="utf-8")
    model = model_id(server)
    results = simple_evaluate(model="local-completions",
                              model_args={"model": model, "base_url": f"{server}/v1/completions",
                                          "num_concurrent": 1, "max_retries": 1,
                                          **({"tokenizer_backend": "huggingface", "tokenizer": str(tiny_model)}
                                             if tokenizer == "folder" else {})},
                              tasks=["canto_serve_mc"], task_manager=TaskManager(include_path=str(tmp_path)),
                              log_samples=True)
    assert 0 <= results["results"]["canto_serve_mc"]["acc,none"] <= 1
    tok, lm = hf
    samples = results["samples"]["canto_serve_mc"]
    assert len(samples) == len(MC_DOCS)
    for sample in samples:
        for (context, continuation), (loglikelihood, _) in zip(sample["arguments"], sample["filtered_resps"],
                                                               strict=True):
            whole = tok(context + continuation, add_special_tokens=False).input_ids
            n = len(tok(context, add_special_tokens=False).input_ids)
            with torch.no_grad():
                scores = torch.log_softmax(lm(torch.tensor([whole])).logits[0].float(), -1)
            expected = sum(float(scores[i - 1, whole[i]]) for i in range(n, len(whole)))
            assert loglikelihood == pytest.approx(expected, abs=1e-3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_cli_serves(tiny_model):
    cli = str(Path(sys.executable).parent / "canto-nemo")
    refused = subprocess.run([cli, "serve"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "model=HF_DIR" in refused.stderr
    port = free_port()
    process = subprocess.Popen([cli, "serve", f"model={tiny_model}", f"port={port}", "max_concurrent=1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def up() -> bool:
            assert process.poll() is None, process.stdout.read()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=120)
        assert health(f"http://127.0.0.1:{port}")["limits"]["max_concurrent"] == 1
    finally:
        process.terminate()
        process.wait(timeout=30)
