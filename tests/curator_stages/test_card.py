"""The dataset card a curate run writes (README.md): Hugging Face's `datasets` loads the output folder by it, its
counts reconcile with stats.json, and licences come from the inputs (a non-commercial or unknown one is said)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from canto_nemo.cantonese import PACK
from canto_nemo.curator_stages import card

NC_LICENSE = ("Attribution-NonCommercial 4.0 International\n\nCreative Commons Corporation (\"Creative Commons\") "
              "is not a law firm.\n")


def front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture(scope="module")
def carded_run(lihkg_posts, tmp_path_factory):
    """A real `canto-nemo curate` of two inputs: a folder under CC BY-NC (its LICENSE) and a file with no licence."""
    tmp = tmp_path_factory.mktemp("card")
    (tmp / "nc").mkdir()
    (tmp / "nc" / "LICENSE").write_text(NC_LICENSE, encoding="utf-8")
    (tmp / "plain").mkdir()
    inputs = {"nc/posts.jsonl": lihkg_posts[:40], "plain/more.jsonl": [*lihkg_posts[40:70], lihkg_posts[0]]}
    for name, posts in inputs.items():
        # Only the folder's records have `thread`: the curated files differ in their columns.
        extra = (lambda i: {"thread": i}) if name.startswith("nc/") else (lambda i: {})
        (tmp / name).write_text("".join(json.dumps({"id": f"{name}#{i}", "text": t, **extra(i)}, ensure_ascii=False)
                                        + "\n" for i, t in enumerate(posts)), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "curate", f"input=[{tmp}/nc,{tmp}/plain/more.jsonl]",
                           f"output={tmp}/out"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp / "out", inputs


def test_load_dataset_reads_the_curated_split(carded_run):
    import datasets

    out, inputs = carded_run
    stats = json.loads((out / "stats.json").read_text())
    # a cache of its own: datasets' shared cache can answer with an earlier run's rows for files of the same names
    loaded = datasets.load_dataset(str(out), cache_dir=str(out.parent / "hf_cache"))
    assert list(loaded) == ["train"]
    train = loaded["train"]
    assert train.num_rows == stats["documents_out"] > 0
    assert {"id", "text", "thread", "source", "dialect_label"} <= set(train.column_names)
    rejected = {json.loads(line)["id"] for p in (out / "rejects").glob("*.jsonl") for line in p.open()}
    every = {f"{name}#{i}" for name, posts in inputs.items() for i in range(len(posts))}
    assert set(train["id"]) == every - rejected
    texts = {f"{name}#{i}": t for name, posts in inputs.items() for i, t in enumerate(posts)}
    assert all(row["text"].strip() and row["id"] in texts for row in train)
    assert {row["thread"] is None for row in train if row["id"].startswith("plain/")} == {True}
    assert all(row["thread"] == int(row["id"].split("#")[1]) for row in train if row["id"].startswith("nc/"))


def test_the_card_says_non_commercial_and_unknown_and_reconciles(carded_run):
    out, _ = carded_run
    stats = json.loads((out / "stats.json").read_text())
    front = front_matter(out / "README.md")
    assert front["language"] == ["yue"]
    assert front["license"] == "unknown"  # plain/more.jsonl has none: never guessed
    assert front["tags"] == ["non-commercial"]  # nc/LICENSE
    assert front["configs"][0]["data_files"] == [{"split": "train", "path": "curated/*.jsonl"}]
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "| cc-by-nc-4.0 |" in text and "| unknown |" in text
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| `")]
    assert sum(int(r[4].replace(",", "")) for r in rows) == stats["documents_out"]
    removed = {(r[1].strip(), r[2].strip()): int(r[3].replace(",", "")) for r in
               (line.split("|") for line in text.split("## Removed")[1].splitlines() if line.startswith("| ")
                and not line.startswith("| stage"))}
    assert removed == {(s["stage"], reason): n for s in stats["stages"] for reason, n in s["reasons"].items()}
    assert ("exact_dedup", "exact_duplicate") in removed  # lihkg_posts[0] twice
    assert (out / "_SUCCESS").stat().st_mtime_ns >= (out / "README.md").stat().st_mtime_ns


def test_licences_of_packaged_corpora_and_options():
    found = card.source_licences(["pycantonese:hkcancor", "pycantonese:common_voice", "pycantonese:ctcpc", "x.jsonl"],
                                 ["", "", "", "cc-by-sa-4.0"], PACK)
    assert [f["licence"] for f in found] == ["cc-by-4.0", "mpl-2.0", "cc0-1.0", "cc-by-sa-4.0"]
    assert card.overall_licence([f["licence"] for f in found]) == "cc-by-sa-4.0"
    assert card.overall_licence(["cc0-1.0", "cc-by-nc-4.0"]) == "cc-by-nc-4.0"
    assert card.overall_licence(["cc0-1.0", "unknown"]) == "unknown"
    assert card.overall_licence(["cc0-1.0", "some-custom-terms"]) == "other"
