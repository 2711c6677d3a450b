"""What `instruct` and `instruct preference` share: a run of NeMo Curator stages in DIR/_work, accounted for as
curation's are (stats.json, report.html), then committed into DIR; a run that fails leaves DIR as it found it, apart
from DIR/_work."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from canto_nemo.common.outputs import prepare_output_dir

__all__ = ["commit", "endpoint_client", "kept_stats", "staged_run", "write_jsonl"]


@contextmanager
def staged_run(output: str, overwrite: bool) -> Iterator[tuple[Path, Path]]:
    """(DIR, DIR/_work), the work folder fresh; removed on any failure, an interrupt included."""
    out = prepare_output_dir(output, overwrite)
    work = out / "_work"
    shutil.rmtree(work, ignore_errors=True)
    try:
        yield out, work
    except BaseException:  # an endpoint gone mid-run, a full disk: no half-written output
        shutil.rmtree(work, ignore_errors=True)
        raise


def endpoint_client(endpoint: str, api_key: str | None, timeout: float):
    """NeMo Curator's OpenAI client for an endpoint given with or without its /v1."""
    from nemo_curator.models.client.openai_client import OpenAIClient

    base_url = endpoint.rstrip("/") if endpoint.rstrip("/").endswith("/v1") else endpoint.rstrip("/") + "/v1"
    return OpenAIClient(base_url=base_url, api_key=api_key or "none", max_retries=1, timeout=timeout)


def kept_stats(work: Path, kept: list[dict], count_name: str, records_in: int, stage_names: list[str],
               elapsed_s: float) -> dict:
    """Curation's stats (counts per stage and reason, reconciled) of the kept records and WORK/rejects."""
    from canto_nemo.curator_stages.stats import collect_stats

    curated = work / "curated"
    curated.mkdir(parents=True, exist_ok=True)
    write_jsonl(curated / "kept.jsonl", kept)
    (work / "counts").mkdir()
    (work / "counts" / f"{count_name}.json").write_text(json.dumps({"records": records_in}))
    (work / "rejects").mkdir(exist_ok=True)
    return collect_stats(str(curated), str(work / "rejects"), stage_names, str(work / "counts"), elapsed_s)


def commit(out: Path, work: Path, stats: dict, names: tuple[str, ...]) -> None:
    """Writes stats.json and report.html, moves `names` (and those two) from WORK into DIR, then DIR/_SUCCESS."""
    from canto_nemo.curator_stages.report import write_report

    (work / "stats.json").write_text(json.dumps(stats, ensure_ascii=False, indent=2), encoding="utf-8")
    write_report(str(work), stats)
    for name in (*names, "stats.json", "report.html"):
        (work / name).rename(out / name)
    shutil.rmtree(work)
    (out / "_SUCCESS").write_text("")


def write_jsonl(path: Path, records: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
