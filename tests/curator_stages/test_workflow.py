"""End to end on a real sample, through real NeMo Curator executors on a local Ray (tens of seconds each)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def jsonl(folder: Path) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.open(encoding="utf-8")]


@pytest.fixture(scope="module")
def curated_run(lihkg_posts, tmp_path_factory):
    """A Hydra-configured run of `canto-nemo curate` on 150 real posts plus the cases that must be accounted for."""
    tmp = tmp_path_factory.mktemp("workflow")
    records = [{"text": post, "thread": i} for i, post in enumerate(lihkg_posts[:150])]
    records += [
        {"text": lihkg_posts[0]},                        # line 151: exact duplicate of line 1
        {"text": "他們在吃飯，我們明天再去看電影吧。這個地方的東西很好吃。"},  # 152: written Chinese
        {"text": "This post is all English, with nothing Cantonese in it at all."},  # 153
        {"text": "佢哋喺度"},                                # 154: short Cantonese, under min_chars=8
    ]
    big = {"text": "我哋喺度傾偈，" * 500_000}                  # 158: a 10 MB document, over max_chars
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + ['{"text": "broken', '{"no_text": 1}', "\x00"]
    lines.append(json.dumps(big, ensure_ascii=False))
    # 159: Cantonese, one line six times: a quality filter after the dialect filter rejects it (whichever posts the
    # judge lets through, a stage of the fused group behind it has a reject of its own)
    lines.append(json.dumps({"text": "\n".join(["今日好熱，我哋去咗海灘游水。"] * 6)}, ensure_ascii=False))
    (tmp / "in.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "canto_nemo.cli", "curate", f"input={tmp}/in.jsonl", f"output={tmp}/out",
         "stages.length.min_chars=8", "stages.clean.emoji=remove"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp / "out", len(lines), done


def test_every_document_is_curated_or_rejected_with_a_reason(curated_run):
    out, n_lines, _ = curated_run
    stats = json.loads((out / "stats.json").read_text())
    curated, rejects = jsonl(out / "curated"), jsonl(out / "rejects")
    assert stats["documents_in"] == n_lines
    assert stats["documents_out"] == len(curated) and stats["documents_rejected"] == len(rejects)
    assert len(curated) + len(rejects) == n_lines and stats["reconciled"]
    assert len({d["id"] for d in curated} | {r["id"] for r in rejects}) == n_lines
    assert all(r["stage"] and r["reason"] for r in rejects)
    assert [s["stage"] for s in stats["stages"]][:4] == ["read", "normalize", "clean", "pii"]
    assert [s["stage"] for s in stats["stages"]][-2:] == ["exact_dedup", "fuzzy_dedup"]
    assert stats["stages"][-1]["out"] == len(curated)


def test_each_case_lands_where_it_should(curated_run):
    out, _, _ = curated_run
    rejects = {r["id"]: r for r in jsonl(out / "rejects")}
    assert rejects["in.jsonl:151"]["reason"] == "exact_duplicate"
    assert rejects["in.jsonl:151"]["duplicate_of"] == "in.jsonl:1"
    assert rejects["in.jsonl:152"]["reason"] == "written_chinese"
    assert rejects["in.jsonl:153"]["stage"] == "dialect" and rejects["in.jsonl:153"]["reason"] == "other"
    assert rejects["in.jsonl:154"]["reason"] == "too_short"  # the min_chars=8 override took effect
    assert rejects["in.jsonl:155"]["reason"] == "invalid_json"
    assert "in.jsonl line 155" in rejects["in.jsonl:155"]["detail"]
    assert rejects["in.jsonl:156"]["reason"] == "missing_text"
    assert rejects["in.jsonl:157"]["reason"] == "invalid_json"
    assert rejects["in.jsonl:158"]["reason"] == "too_long" and rejects["in.jsonl:158"]["stage"] == "length"
    assert rejects["in.jsonl:159"]["stage"] == "repeated_lines"


def test_curated_records_carry_scores_metadata_and_clean_text(curated_run):
    out, _, _ = curated_run
    curated = jsonl(out / "curated")
    assert all(d["dialect_label"] in ("cantonese", "neutral", "mixed") for d in curated)  # the default policy
    assert all(0 <= d["dialect_score"] <= 1 for d in curated)
    assert any(d.get("thread") == 0 for d in curated)  # the user's own field, as a field
    assert not any(k.startswith("_") for d in curated for k in d)  # nothing internal is written
    assert (out / "_SUCCESS").is_file() and not (out / "_work").exists()
    assert not any("http://" in d["text"] or "https://" in d["text"] for d in curated)


def test_report_shows_the_run(curated_run):
    out, _, _ = curated_run
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "Funnel" in page and "reconciled" in page and "exact_duplicate" in page


def test_python_api_composes_with_curators_own_stages(tmp_path, lihkg_posts):
    """Our modifiers and filters inside a Pipeline of Curator's own reader, ScoreFilter and writer."""
    from nemo_curator.backends.ray_data import RayDataExecutor
    from nemo_curator.pipeline import Pipeline
    from nemo_curator.stages.text.filters import DocumentFilter, Filter, ScoreFilter
    from nemo_curator.stages.text.io.reader import JsonlReader
    from nemo_curator.stages.text.io.writer import JsonlWriter
    from nemo_curator.stages.text.modifiers import Modify

    from canto_nemo.cantonese import CantoneseNormalizer
    from canto_nemo.curator_stages import DialectLabeler, DictionaryAwareCleaner, configure_ray
    from canto_nemo.curator_stages.quality import CharLengthFilter

    class DialectLabelIs(DocumentFilter):  # a user's own filter over the labelling stage's column
        def __init__(self, label):
            super().__init__()
            self.label = label

        def score_document(self, text):
            raise NotImplementedError

        def keep_document(self, label):
            return label == self.label

    (tmp_path / "in").mkdir()
    texts = [*lihkg_posts[:40], "他們在吃飯，我們明天再去看電影吧。"]
    (tmp_path / "in" / "a.jsonl").write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    configure_ray(None)
    Pipeline(name="api", stages=[
        JsonlReader(str(tmp_path / "in")),
        Modify(CantoneseNormalizer()),
        Modify(DictionaryAwareCleaner("cantonese")),
        ScoreFilter(CharLengthFilter(5, 10_000), score_field="length"),
        DialectLabeler("cantonese"),
        Filter(DialectLabelIs("cantonese"), filter_field="dialect_label"),
        JsonlWriter(str(tmp_path / "out")),
    ]).run(RayDataExecutor())
    written = jsonl(tmp_path / "out")
    assert 0 < len(written) < len(texts)
    assert all(d["dialect_label"] == "cantonese" and d["length"] >= 5 for d in written)
    assert not any(d["text"].startswith("他們在吃飯") for d in written)


def test_a_run_shows_one_line_per_step_and_no_engine_logs(curated_run):
    _, _, done = curated_run
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("[curate]") for line in lines), lines[:10]
    assert any("pass 1/2" in line for line in lines) and any("reconciled" in line for line in lines)


def test_fused_stages_curate_exactly_what_separate_stages_do(curated_run):
    """Consecutive stages run as one engine stage (fuse=true, the default); the same run with one engine stage per
    stage must curate and reject the same documents, in the same words, and time every stage by its own name."""
    out, _, _ = curated_run
    separate = out.parent / "separate"
    done = subprocess.run(
        [sys.executable, "-m", "canto_nemo.cli", "curate", f"input={out.parent}/in.jsonl", f"output={separate}",
         "stages.length.min_chars=8", "stages.clean.emoji=remove", "fuse=false"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    def by_id(records: list[dict]) -> list[dict]:
        return sorted(records, key=lambda r: r["id"])

    assert by_id(jsonl(out / "curated")) == by_id(jsonl(separate / "curated"))
    assert by_id(jsonl(out / "rejects")) == by_id(jsonl(separate / "rejects"))
    # Files are named from the engine's task ids, inside a fused group too, none at random (a retried task rewrites
    # its own file rather than adding one); pass 1's the same in both runs (pass 2's ids hash its input paths, which
    # are in each run's own folder).
    def names(folder: Path) -> list[str]:
        return sorted(p.name for p in (folder / "rejects").iterdir() if not p.name.startswith(("exact", "fuzzy")))

    assert names(out) == names(separate) and len(names(out)) >= 5
    assert not [p.name for p in (out / "rejects").iterdir() if re.search(r"[0-9a-f]{32}", p.name)]
    fused, unfused = (json.loads((d / "stats.json").read_text()) for d in (out, separate))
    assert fused["stages"] == unfused["stages"]
    configured = [s["stage"] for s in fused["stages"] if s["stage"] not in ("read", "exact_dedup", "fuzzy_dedup")]
    for stats in (fused, unfused):
        assert set(configured) <= set(stats["timings"]["stages_s"]), stats["timings"]
        assert stats["timings"]["pass1_of_2_s"] > 0 and stats["timings"]["pass2_of_2_s"] > 0
    assert any("+" in name for name in fused["timings"]["stages_s"])  # the fused engine stage, by its parts
    assert not any("+" in name for name in unfused["timings"]["stages_s"])


def test_a_file_read_in_ranges_is_counted_and_rejected_in_full(lihkg_posts, tmp_path):
    """Each byte range of a file is a task of its own. NeMo Curator names a source stage's tasks by their files, so the
    ranges of one file shared an id, and their read counts and rejects files (named by it) overwrote each other."""
    records = [{"text": post} for post in lihkg_posts[:400]] + [{"text": "好"}] * 40  # short: rejected by length
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert path.stat().st_size > 5 * 16384
    done = subprocess.run(
        [sys.executable, "-m", "canto_nemo.cli", "curate", f"input={path}", f"output={tmp_path}/out",
         "split_bytes=16384"],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = tmp_path / "out"
    stats = json.loads((out / "stats.json").read_text())
    curated, rejects = jsonl(out / "curated"), jsonl(out / "rejects")
    assert stats["documents_in"] == len(records) == len(curated) + len(rejects) and stats["reconciled"]
    assert sum(r["reason"] == "too_short" for r in rejects) >= 40


def test_pass_one_names_its_files_the_same_in_every_run(lihkg_posts, tmp_path):
    """Files read into several batches each: the engine's task ids, and the file names made from them, must not be
    random (a retried task would write a second file, read again by pass 2)."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        rows = [{"text": post} for post in lihkg_posts[i * 60 : (i + 1) * 60]]
        (folder / f"part{i}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                               encoding="utf-8")
    names = []
    for run in ("a", "b"):
        done = subprocess.run(
            [sys.executable, "-m", "canto_nemo.cli", "curate", f"input={folder}", f"output={tmp_path / run}",
             "batch_size=20", "keep_work=true"],
            capture_output=True, text=True, timeout=900,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        names.append(sorted(p.name for p in (tmp_path / run / "_work" / "filtered").iterdir()))
    assert len(names[0]) >= 6 and names[0] == names[1]
