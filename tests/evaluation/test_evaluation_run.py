"""`canto-nemo eval` (evaluation/run.py) on real lm-eval: two tiny models side by side into results.json and
report.html, and bad input (missing data, an unreachable endpoint, an endpoint without prompt log-probabilities)
refused before any model loads, naming what to fix."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from canto_nemo.evaluation.run import evaluate

CLI = [sys.executable, "-m", "canto_nemo.cli", "eval"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def second_model(tmp_path_factory, lihkg_posts, make_tiny_model) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny2") / "other", lihkg_posts[:500], seed=1)


def test_two_models_side_by_side(tiny_model, second_model, tmp_path, shared_data):
    out = tmp_path / "eval"
    lines: list[str] = []
    results = evaluate(str(out), model=[str(tiny_model), str(second_model)],
                       tasks=["yue_arc_c", "yue_gsm8k", "cantonese_bpc"], limit=3, max_gen_toks=8,
                       benchmark=str(shared_data / "yue_benchmark"), progress=lines.append)
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == results
    assert results["harness"]["lm_eval"] == __import__("lm_eval").__version__
    assert list(results["models"]) == ["model", "other"]
    for name, model in results["models"].items():
        tasks = model["tasks"]
        assert set(tasks) == {"yue_arc_c", "yue_gsm8k", "cantonese_bpc"}
        for task in tasks.values():
            assert task["n"] == 3 and task["shots"] == 0 and len(task["prompt_hash"]) == 64
        assert 0 <= tasks["yue_arc_c"]["metrics"]["acc,none"] <= 1
        assert tasks["cantonese_bpc"]["metrics"]["bits_per_character,none"] > 0
        fidelity = tasks["yue_gsm8k"]["fidelity"]
        assert abs(sum(fidelity["labels"].values()) - 1) < 1e-9
        assert fidelity["cantonese_share"] == pytest.approx(tasks["yue_gsm8k"]["metrics"]["cantonese_share,none"])
        assert set(fidelity["examples"]) == set(fidelity["labels"])
        samples = (out / "samples" / name / "yue_gsm8k.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(samples) == 3 and "response" in json.loads(samples[0])
        # Unreadable answers are counted apart from wrong ones, per model and task, from the samples themselves.
        unreadable = sum(json.loads(line)["unparseable"] for line in samples)
        assert tasks["yue_gsm8k"]["unparseable"] == {"count": unreadable, "share": unreadable / 3}
        assert tasks["yue_gsm8k"]["metrics"]["unparseable,none"] == pytest.approx(unreadable / 3)
        assert "unparseable" not in tasks["yue_arc_c"]  # scored by log-likelihood: nothing to read
    # Same prompts for both models; different models, different likelihoods.
    a, b = (results["models"][m]["tasks"] for m in ("model", "other"))
    assert a["yue_arc_c"]["prompt_hash"] == b["yue_arc_c"]["prompt_hash"]
    assert a["cantonese_bpc"]["metrics"] != b["cantonese_bpc"]["metrics"]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "<th>model</th><th>other</th>" in report and "bits_per_character,none" in report
    assert "dialect of the answers" in report
    assert any("done in" in line for line in lines) and (out / "logs" / "model.log").is_file()


def test_the_output_folder_policy(tiny_model, tmp_path):
    (tmp_path / "old").write_text("x")
    done = run(f"model={tiny_model}", f"output={tmp_path}", "tasks=[cantonese_bpc]", "limit=1")
    assert done.returncode == 2 and "is not empty" in done.stderr and "overwrite=true" in done.stderr


def test_missing_data_is_named_before_any_model_loads(tiny_model, tmp_path):
    done = run(f"model={tiny_model}", f"output={tmp_path / 'a'}", f"benchmark={tmp_path / 'nowhere'}")
    assert done.returncode == 2 and str(tmp_path / "nowhere") in done.stderr
    (tmp_path / "partial").mkdir()
    done = run(f"model={tiny_model}", f"output={tmp_path / 'b'}", f"benchmark={tmp_path / 'partial'}",
               "tasks=[yue_gsm8k]")
    assert done.returncode == 2 and "Yue-GSM8K.json does not exist" in done.stderr and "benchmark=DIR" in done.stderr
    done = run(f"model={tiny_model}", f"output={tmp_path / 'c'}", f"held_out={tmp_path / 'no.txt'}",
               "tasks=[cantonese_bpc]")
    assert done.returncode == 2 and "held-out text" in done.stderr and "held_out=PATH" in done.stderr
    done = run(f"model={tmp_path}", f"output={tmp_path / 'd'}")
    assert done.returncode == 2 and "no config.json" in done.stderr
    done = run(f"model={tiny_model}", f"output={tmp_path / 'e'}", "tasks=[mmlu]")
    assert done.returncode == 2 and "unknown task 'mmlu'" in done.stderr and "yue_gsm8k" in done.stderr
    done = run(f"output={tmp_path / 'f'}")
    assert done.returncode == 2 and "model=HF_DIR" in done.stderr
    assert not any((tmp_path / x).exists() for x in "abcdef")  # nothing written for a run that cannot start


def test_unreachable_endpoint(tmp_path, shared_data):  # the tasks read Yue-Benchmark
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run(f"endpoint=http://127.0.0.1:{port}/v1", f"output={tmp_path / 'out'}", "tasks=[yue_gsm8k]")
    assert done.returncode == 2 and "unreachable" in done.stderr and f"127.0.0.1:{port}" in done.stderr
    assert "canto-nemo serve" in done.stderr


class _NoLogprobs(BaseHTTPRequestHandler):
    """An OpenAI-compatible server of the kind that answers completions without prompt log-probabilities (many
    hosted APIs): what evaluate must refuse for multiple-choice tasks."""

    def _reply(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self._reply({"object": "list", "data": [{"id": "some-model", "object": "model"}]})
        else:
            self.send_error(404)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/v1/completions":
            self._reply({"object": "text_completion", "model": "some-model",
                         "choices": [{"index": 0, "text": "好", "logprobs": None, "finish_reason": "length"}]})
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def no_logprobs_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NoLogprobs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_endpoint_without_logprobs_is_refused_for_scored_tasks(no_logprobs_endpoint, tmp_path, shared_data):
    done = run(f"endpoint={no_logprobs_endpoint}", f"output={tmp_path / 'out'}", "tasks=[yue_arc_c,yue_gsm8k]")
    assert done.returncode == 2 and "no log-probabilities of the prompt" in done.stderr
    assert "yue_arc_c" in done.stderr and "yue_arc_c_gen" in done.stderr  # what to run instead
    done = run(f"endpoint={no_logprobs_endpoint}", f"output={tmp_path / 'chat'}", "tasks=[yue_arc_c]", "chat=true")
    assert done.returncode == 2 and "chat endpoints do not return" in done.stderr


def test_an_endpoint_scores_as_the_model_folder_does(tiny_model, tmp_path, shared_data):
    """The same model through the project's server (lm-eval's local-completions, the server's tokenizer routes) and
    as a folder (lm-eval's hf): the same prompts, the same log-likelihood scores, and generation through both."""
    from canto_nemo.serving.server import build_app, serving

    tasks = ["yue_arc_c", "cantonese_bpc", "yue_gsm8k"]
    options = {"tasks": tasks, "limit": 3, "max_gen_toks": 8, "benchmark": str(shared_data / "yue_benchmark"),
               "progress": lambda line: None}
    folder = evaluate(str(tmp_path / "folder"), model=str(tiny_model), **options)["models"]["model"]["tasks"]
    with serving(build_app(model=str(tiny_model), max_concurrent=1)) as url:
        results = evaluate(str(tmp_path / "endpoint"), endpoint=url, **options)
    (name,) = results["models"]
    endpoint = results["models"][name]["tasks"]
    assert results["models"][name]["target"]["tokenizer_backend"] == "remote"
    for task in tasks:
        assert endpoint[task]["prompt_hash"] == folder[task]["prompt_hash"]
    assert endpoint["yue_arc_c"]["metrics"]["acc,none"] == folder["yue_arc_c"]["metrics"]["acc,none"]
    bpc = [r["cantonese_bpc"]["metrics"]["bits_per_character,none"] for r in (endpoint, folder)]
    assert bpc[0] == pytest.approx(bpc[1], rel=1e-3)
    assert endpoint["yue_gsm8k"]["n"] == 3 and "labels" in endpoint["yue_gsm8k"]["fidelity"]
