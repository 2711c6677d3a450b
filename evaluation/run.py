"""`canto-nemo eval`: the evaluation suite (tasks/*.yaml) run by lm-evaluation-harness's own runner on Hugging Face
model folders and OpenAI-compatible endpoints, written up as DIR/results.json and DIR/report.html.

Targets: a model folder (what `nemo llm export ... target=hf` writes, or the demo's DIR/smoke_train/hf) runs in
transformers (lm-eval's `hf`); an endpoint (vLLM, NIM, `canto-nemo serve`) runs through lm-eval's
`local-completions`, or `local-chat-completions` with chat=true. Everything a run needs is checked before lm-eval
starts, so a missing data folder, an unreachable endpoint or one without the prompt log-probabilities that
multiple-choice tasks score with fails at once with what to fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from canto_nemo.common.outputs import prepare_output_dir
from canto_nemo.evaluation import scoring
from canto_nemo.evaluation.tasks import utils as task_data

__all__ = ["TASKS_DIR", "evaluate", "task_manager"]

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
LOGPROB_TYPES = ("multiple_choice", "loglikelihood", "loglikelihood_rolling")
EXAMPLES_PER_LABEL = 3


def task_manager():
    """lm-eval's TaskManager over this package's task folder only (its 10k built-in tasks take a minute to index)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False)


def evaluate(
    output: str,
    model: list[str] | None = None,
    endpoint: str | None = None,
    tasks: list[str] | None = None,
    limit: int | None = None,
    num_fewshot: int | None = None,
    chat: bool = False,
    endpoint_model: str | None = None,
    tokenizer: str | None = None,
    api_key: str | None = None,
    benchmark: str | None = None,
    held_out: str | None = None,
    max_gen_toks: int | None = None,
    device: str = "cpu",
    batch_size: int = 1,
    bootstrap_iters: int = 100,
    seed: int = 1234,
    pack: str = "cantonese",
    overwrite: bool = False,
    verbose: bool = False,
    progress=print,
) -> dict:
    """Runs `tasks` (default: the whole yue_benchmark group and cantonese_bpc) on every model folder in `model` and on
    `endpoint`, side by side; writes DIR/results.json, DIR/report.html and every sample's prompt and response under
    DIR/samples/; returns the results. `limit` caps the items per task (a quick look, not a score to publish);
    `benchmark` and `held_out` name the Yue-Benchmark folder and the held-out Cantonese text (else
    $CANTO_NEMO_YUE_BENCHMARK and $CANTO_NEMO_HELD_OUT, else ../shared/data). lm-eval's own progress bars and
    notices go to DIR/logs/MODEL.log (`tail -f` it on a long run), or to the terminal with verbose=true. `pack`: the
    language pack whose judge, off-script share and reward measure the answers' fidelity."""
    models = [model] if isinstance(model, str) else list(model or [])
    if not models and not endpoint:
        raise ValueError("nothing to evaluate: give model=HF_DIR (or model=[DIR,DIR] side by side) or endpoint=URL")
    tasks = list(tasks or ["yue_benchmark", "cantonese_bpc"])
    if benchmark:
        os.environ[task_data.ENV] = str(Path(benchmark).resolve())
    if held_out:
        os.environ[task_data.HELD_OUT_ENV] = str(Path(held_out).resolve())
    manager = task_manager()
    leaves = _leaf_tasks(manager, tasks)
    _check_data(leaves)
    for folder in models:
        if not (Path(folder) / "config.json").is_file():
            raise FileNotFoundError(f"model {folder} is not a Hugging Face model folder (no config.json): export a "
                                    "NeMo checkpoint with `nemo llm export ... target=hf`, or give the demo's "
                                    "DIR/smoke_train/hf")
    targets = [{"name": Path(folder).resolve().name if Path(folder).name in ("", ".") else Path(folder).name,
                "kind": "hf", "path": str(Path(folder).resolve())} for folder in models]
    if endpoint:
        targets.append(_check_endpoint(endpoint, leaves, chat, endpoint_model, tokenizer, api_key))
    _unique_names(targets)
    out = prepare_output_dir(output, overwrite)

    import lm_eval

    results = {"harness": {"lm_eval": lm_eval.__version__}, "tasks": tasks, "limit": limit,
               "num_fewshot": num_fewshot, "chat": chat, "seed": seed, "models": {}}
    for target in targets:
        progress(f"eval: {target['name']} ({target.get('path') or target['url']}): {', '.join(tasks)}"
                 + (f", {limit} items each" if limit else ""))
        started = time.perf_counter()
        model_name, model_args = _lm_eval_model(target, chat, device, api_key)
        log = out / "logs" / f"{target['name']}.log"
        log.parent.mkdir(exist_ok=True)
        if not verbose:
            progress(f"eval: lm-eval's progress in {log}")
        with log.open("w", encoding="utf-8") as f, contextlib.redirect_stderr(sys.stderr if verbose else f):
            raw = lm_eval.simple_evaluate(
                model=model_name, model_args=model_args, tasks=tasks, num_fewshot=num_fewshot, limit=limit,
                batch_size=batch_size, device=device if target["kind"] == "hf" else None, log_samples=True,
                apply_chat_template=chat, fewshot_as_multiturn=chat and num_fewshot not in (None, 0),
                gen_kwargs=f"max_gen_toks={max_gen_toks}" if max_gen_toks else None, task_manager=manager,
                bootstrap_iters=bootstrap_iters, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
                fewshot_random_seed=seed)
        results["harness"].update(transformers=raw.get("transformers_version"))
        results["models"][target["name"]] = _summarise(target, raw, out / "samples" / target["name"], pack)
        progress(f"eval: {target['name']} done in {time.perf_counter() - started:,.0f} s: "
                 + _headline(results["models"][target["name"]]))
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (out / "report.html").write_text(report_html(results), encoding="utf-8")
    progress(f"eval: wrote {out / 'results.json'} and {out / 'report.html'}")
    return results


# ------------------------------------------------------------------------------------------------- checks first


def _leaf_tasks(manager, tasks: list[str]) -> dict[str, dict]:
    """The task configs behind `tasks` (groups opened up), by name; unknown names are refused with the known ones."""
    known = set(manager.all_tasks)
    unknown = [t for t in tasks if t not in known]
    if unknown:
        raise ValueError(f"unknown task {unknown[0]!r}; the suite's tasks and groups: {', '.join(sorted(known))}")
    leaves: dict[str, dict] = {}
    pending = list(tasks)
    while pending:
        entry = manager.task_index[pending.pop()]  # lm-eval's own index of the YAMLs (includes resolved)
        if isinstance(entry.cfg.get("task"), list):  # a group: its tasks
            pending.extend(t if isinstance(t, str) else t["task"] for t in entry.cfg["task"])
        else:
            leaves[entry.name] = entry.cfg
    return leaves


def _check_data(leaves: dict[str, dict]) -> None:
    """The data files the tasks read, checked before any model loads."""
    for name, config in leaves.items():
        if name == "cantonese_bpc":
            path = Path(os.environ.get(task_data.HELD_OUT_ENV) or task_data.DEFAULT_HELD_OUT)
            if not path.exists():
                raise FileNotFoundError(f"task cantonese_bpc: held-out text {path} does not exist: pass held_out=PATH "
                                        f"(or set {task_data.HELD_OUT_ENV}) to Cantonese documents never trained on")
        else:
            file = (config.get("dataset_kwargs") or {}).get("file")
            if file and not (task_data.data_dir() / file).is_file():
                raise FileNotFoundError(f"task {name}: {task_data.data_dir() / file} does not exist: pass "
                                        f"benchmark=DIR (or set {task_data.ENV}) to the Yue-Benchmark folder")


def _request(url: str, api_key: str | None, body: dict | None = None, timeout: float = 30) -> dict:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=timeout) as r:
        return json.loads(r.read())


def _check_endpoint(endpoint: str, leaves: dict[str, dict], chat: bool, endpoint_model: str | None,
                    tokenizer: str | None, api_key: str | None) -> dict:
    """The endpoint answers, serves a model, and (for the tasks that score prompts) returns prompt log-probabilities;
    else a clear error. Returns the target: its base URL, the model name and how lm-eval tokenizes for it."""
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
    base = endpoint.rstrip("/")
    base = base if base.endswith("/v1") else base + "/v1"
    try:
        listed = _request(f"{base}/models", api_key, timeout=10)
    except urllib.error.HTTPError as err:
        hint = " (pass api_key=KEY)" if err.code in (401, 403) else ""
        raise ConnectionError(f"endpoint {base}/models answered HTTP {err.code}{hint}: is {endpoint} an "
                              "OpenAI-compatible server?") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"endpoint {endpoint} is unreachable ({reason}): start the server (vllm serve, "
                              "canto-nemo serve model=DIR) or fix endpoint=") from None
    served = [m["id"] for m in listed.get("data", [])]
    name = endpoint_model or (served[0] if served else None)
    if name is None:
        raise ValueError(f"endpoint {base} lists no model: pass endpoint_model=NAME")
    scored = sorted(t for t, c in leaves.items() if c.get("output_type") in LOGPROB_TYPES)
    if scored and chat:
        raise ValueError(f"tasks {', '.join(scored)} score the prompt's log-probabilities, which chat endpoints do "
                         "not return: drop them, or evaluate the completions endpoint (chat=false)")
    if scored:
        try:
            probe = _request(f"{base}/completions", api_key, {"model": name, "prompt": "今日好熱", "max_tokens": 1,
                                                              "temperature": 0, "logprobs": 1, "echo": True})
            logprobs = (probe["choices"][0].get("logprobs") or {}).get("token_logprobs") or []
        except (urllib.error.URLError, OSError, KeyError, IndexError, ValueError):
            logprobs = []
        if len(logprobs) < 2:
            raise ValueError(f"endpoint {base} returns no log-probabilities of the prompt (echo=true, logprobs=1), "
                             f"which tasks {', '.join(scored)} score with: drop them (the generation tasks "
                             "yue_arc_c_gen, yue_gsm8k, yue_trans_* need none) or serve with vLLM or canto-nemo serve")
    backend = "huggingface" if tokenizer else ("remote" if _has_remote_tokenizer(endpoint, api_key) else None)
    if scored and backend is None:
        raise ValueError(f"tasks {', '.join(scored)} need the endpoint's tokenizer: the server has no /tokenize "
                         "(vLLM's): pass tokenizer=HF_DIR or a Hugging Face tokenizer folder for the served model")
    return {"name": name.rstrip("/").rsplit("/", 1)[-1], "kind": "endpoint", "url": base, "model": name,
            "tokenizer": tokenizer, "tokenizer_backend": backend}


def _has_remote_tokenizer(endpoint: str, api_key: str | None) -> bool:
    from lm_eval.utils import check_remote_tokenizer_support

    root = endpoint.rstrip("/").removesuffix("/v1")
    try:
        return bool(check_remote_tokenizer_support(root, auth_token=api_key))
    except Exception:
        return False


def _unique_names(targets: list[dict]) -> None:
    counts = Counter(t["name"] for t in targets)
    for i, target in enumerate(targets):
        if counts[target["name"]] > 1:
            target["name"] = f"{target['name']}-{i + 1}"


def _lm_eval_model(target: dict, chat: bool, device: str, api_key: str | None) -> tuple[str, dict]:
    if target["kind"] == "hf":
        # float32 on CPU: bfloat16 matmuls there are slow and change scores in the third decimal.
        return "hf", {"pretrained": target["path"], "dtype": "float32" if device == "cpu" else "auto"}
    if api_key:
        os.environ["OPENAI_API_KEY"] = api_key  # lm-eval's API models read it there
    args = {"model": target["model"], "num_concurrent": 1, "max_retries": 2, "timeout": 600}
    if chat:
        return "local-chat-completions", {**args, "base_url": f"{target['url']}/chat/completions",
                                          "tokenizer_backend": None}
    args |= {"base_url": f"{target['url']}/completions", "tokenizer_backend": target["tokenizer_backend"] or "none"}
    if target["tokenizer"]:
        args["tokenizer"] = target["tokenizer"]
    if args["tokenizer_backend"] == "none":
        args["tokenized_requests"] = False
    return "local-completions", args


# ------------------------------------------------------------------------------------------------- results


def _summarise(target: dict, raw: dict, samples_dir: Path, pack: str = "cantonese") -> dict:
    """One model's results: per task its metrics (every filter), shots, items, the hash of its prompts, and for
    generation tasks the dialect labels of the answers with examples of each; the samples written beside."""
    samples_dir.mkdir(parents=True, exist_ok=True)
    tasks = {}
    for name, metrics in raw["results"].items():
        entry = {"metrics": {k: v for k, v in metrics.items() if "," in k and v != "N/A"},
                 "alias": metrics.get("alias", name)}
        if name in raw.get("n-shot", {}):
            entry["shots"] = raw["n-shot"][name]
        if name in raw.get("n-samples", {}):
            entry["n"] = raw["n-samples"][name]["effective"]
            entry["n_total"] = raw["n-samples"][name]["original"]
        samples = raw.get("samples", {}).get(name)
        if samples:
            entry["prompt_hash"] = hashlib.sha256("".join(s["prompt_hash"] for s in samples).encode()).hexdigest()
            with (samples_dir / f"{name}.jsonl").open("w", encoding="utf-8") as f:
                for s in samples:
                    f.write(json.dumps({"doc_id": s["doc_id"], "arguments": s["arguments"], "target": s["target"],
                                        "response": s["filtered_resps"], **{m: s[m] for m in s["metrics"]}},
                                       ensure_ascii=False, default=str) + "\n")
            if raw["configs"][name].get("output_type") == "generate_until":
                entry["fidelity"] = _fidelity(samples, pack)
            if all("unparseable" in s for s in samples):
                # Answers no extraction rule could read: scored wrong, and shown apart so a reader can tell "wrong"
                # from "unreadable".
                count = int(sum(s["unparseable"] for s in samples))
                entry["unparseable"] = {"count": count, "share": count / len(samples)}
        tasks[name] = entry
    info = {k: v for k, v in target.items() if k != "name" and v is not None}
    return {"target": info, "tasks": tasks, "groups": sorted(raw.get("group_subtasks", {}))}


def _fidelity(samples: list[dict], pack: str) -> dict:
    responses = [s["filtered_resps"][0] if isinstance(s["filtered_resps"], list) else s["filtered_resps"]
                 for s in samples]
    return scoring.fidelity([r if isinstance(r, str) else str(r) for r in responses], pack, EXAMPLES_PER_LABEL)


def _headline(model: dict) -> str:
    parts = []
    for name, entry in model["tasks"].items():
        main = next(iter(entry["metrics"].items()), None)
        if main and not main[0].endswith("_stderr,none"):
            parts.append(f"{name} {main[0].split(',')[0]} {main[1]:.4g}")
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------- report


_STYLE = """body{font-family:system-ui,'Noto Sans CJK TC',sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.bar{display:inline-block;height:.8em;background:#4a7ebb;margin-right:6px;vertical-align:middle}
.stack{display:flex;width:320px;height:1em}.stack span{display:block;height:100%}
.cantonese{background:#2e8b57}.mixed{background:#9acd32}.neutral{background:#bbb}
.written_chinese{background:#d2691e}.other{background:#666}
small{color:#666}pre{white-space:pre-wrap;word-break:break-all;max-width:50em;margin:0}"""


def _cell(value, best: float) -> str:
    """A table cell with a bar as long as the value relative to the row's largest (the models compared at a glance)."""
    if not isinstance(value, int | float):
        return f"<td>{html.escape(str(value))}</td>"
    width = 120 * abs(value) / best if best else 0
    return f'<td><span class="bar" style="width:{width:.0f}px"></span>{value:.4f}</td>'


def report_html(results: dict) -> str:
    """The models side by side: per task a table of every metric (bars relative to the row's largest value), then
    per generation task the dialect labels of the answers as stacked bars, with examples."""
    models = results["models"]
    names = list(models)
    task_names = list(dict.fromkeys(t for m in models.values() for t in m["tasks"]))
    parts = [f"<!doctype html><html lang='yue-Hant'><meta charset='utf-8'><title>canto-nemo eval</title>"
             f"<style>{_STYLE}</style><h1>Evaluation</h1><p><small>lm-eval {results['harness']['lm_eval']}, "
             f"tasks {html.escape(', '.join(results['tasks']))}, limit {results['limit']}, seed {results['seed']}"
             f"</small></p><table><tr><th>model</th><th>target</th></tr>"]
    for name in names:
        target = models[name]["target"]
        parts.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(target.get('path') or target['url'])}"
                     "</td></tr>")
    parts.append("</table>")
    for task in task_names:
        entries = {n: models[n]["tasks"].get(task) for n in names}
        first = next(e for e in entries.values() if e)
        parts.append(f"<h2>{html.escape(first['alias'].strip(' -'))}</h2><small>{first.get('n', '')} items"
                     f"{', ' + str(first['shots']) + '-shot' if 'shots' in first else ''}</small>"
                     "<table><tr><th>metric</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr>")
        metrics = list(dict.fromkeys(k for e in entries.values() if e for k in e["metrics"] if "_stderr" not in k))
        for metric in metrics:
            values = [e["metrics"].get(metric, "") if e else "" for e in entries.values()]
            best = max((abs(v) for v in values if isinstance(v, int | float)), default=0)
            row = "".join(_cell(v, best) for v in values)
            parts.append(f"<tr><td>{html.escape(metric)}</td>{row}</tr>")
        parts.append("</table>")
        if any(e and "fidelity" in e for e in entries.values()):
            parts.append("<table><tr><th>model</th><th>dialect of the answers</th><th>examples</th></tr>")
            for n, e in entries.items():
                if not e or "fidelity" not in e:
                    continue
                labels = e["fidelity"]["labels"]
                stack = "".join(f'<span class="{label}" style="width:{share * 100:.1f}%" '
                                f'title="{label} {share:.1%}"></span>' for label, share in labels.items())
                legend = ", ".join(f"{label} {share:.0%}" for label, share in labels.items())
                examples = "".join(f"<p><b>{label}</b><pre>{html.escape(x)}</pre></p>"
                                   for label, xs in e["fidelity"]["examples"].items() for x in xs[:1])
                parts.append(f"<tr><td>{html.escape(n)}</td><td><div class='stack'>{stack}</div><small>{legend}"
                             f"</small></td><td>{examples}</td></tr>")
            parts.append("</table>")
    parts.append("</html>\n")
    return "".join(parts)
