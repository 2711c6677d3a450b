"""Bad input never stops a run (datatrove-style property test): Hypothesis builds folders of good, bad and empty
files of every supported format, the real `canto-nemo curate` runs on them (joining one running Ray, as a cluster
user's runs would), and every time it exits 0, counts reconcile, and every reject has a stage and a reason.

A few examples per CI run; CANTO_NEMO_PROPERTY_EXAMPLES=200 asks for many."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("CANTO_NEMO_PROPERTY_EXAMPLES", "3"))
GOOD = ["佢哋喺度食緊飯，你嚟唔嚟呀？聽日再傾啦", "我哋今晚去邊度食飯好呢？不如去茶餐廳", "呢間舖頭啲嘢好正，下次再嚟",
        "你睇咗套戲未呀？好好睇㗎", "他們在餐廳吃飯，然後回家休息了。"]

# One line of a line-oriented file: valid, or one of the ways a line goes wrong.
line_kinds = st.sampled_from(["good", "good", "good", "bad_json", "no_text", "int_text", "empty_text", "nul",
                              "big5", "deep", "blank", "list", "mixed_field"])
file_specs = st.lists(st.tuples(st.sampled_from(["jsonl", "json", "txt", "tsv", "conllu", "parquet"]),
                                st.sampled_from(["plain", "gz", "truncated_gz", "bom", "empty", "binary"]),
                                st.lists(line_kinds, max_size=12)), min_size=1, max_size=6)


def jsonl_line(kind: str, i: int) -> bytes:
    text = GOOD[i % len(GOOD)] + f"（{i}）"
    return {
        "good": json.dumps({"text": text, "n": i}, ensure_ascii=False).encode(),
        "bad_json": b'{"text": "broken',
        "no_text": b'{"title": "x"}',
        "int_text": b'{"text": 42}',
        "empty_text": b'{"text": "  "}',
        "nul": b'{"text": "a\\u0000b"}',
        "big5": json.dumps({"text": text}, ensure_ascii=False).encode("big5hkscs", errors="replace"),
        "deep": b"[" * 50_000,
        "blank": b"",
        "list": b"[1, 2]",
        "mixed_field": json.dumps({"text": text, "n": "text instead of a number"}, ensure_ascii=False).encode(),
    }[kind]


def text_line(kind: str, i: int, fmt: str) -> bytes:
    text = GOOD[i % len(GOOD)] + f"（{i}）"
    if kind in ("good", "mixed_field", "list"):
        line = text
    elif kind == "big5":
        return text.encode("big5hkscs", errors="replace")
    elif kind == "nul":
        line = "a\x00b"
    elif kind == "empty_text":
        line = "   "
    else:
        line = "" if kind == "blank" else "{broken"
    if fmt == "tsv":
        return f"{i}\t{line}".encode()
    if fmt == "conllu":
        return f"# sent_id = {i}\n# text = {line}\n1\t{line[:1]}\t_\t_\t_\t_\t0\troot\t_\t_\n".encode()
    return line.encode()


def write(folder: Path, n: int, fmt: str, shape: str, kinds: list[str]) -> None:
    name = folder / f"f{n}.{fmt}"
    if fmt == "parquet":  # a Parquet column has one type: integers for the whole file, or text and nulls
        if "int_text" in kinds:
            rows = [{"text": i, "n": i} for i in range(len(kinds))]
        else:
            rows = [{"text": (GOOD[i % len(GOOD)] + f"（{i}）") if k == "good" else (None if k == "no_text" else
                     "  "), "n": i} for i, k in enumerate(kinds)]
        if shape in ("binary", "truncated_gz"):
            name.write_bytes(b"PAR1 not really parquet")
        else:
            pd.DataFrame(rows, columns=["text", "n"]).to_parquet(name)
        return
    if fmt in ("jsonl", "json"):
        lines = [jsonl_line(k, i) for i, k in enumerate(kinds)]
    else:
        lines = [text_line(k, i, fmt) for i, k in enumerate(kinds)]
        if fmt == "tsv":
            lines.insert(0, b"label\ttext_a")
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    if shape == "empty":
        data = b""
    elif shape == "bom":
        data = b"\xef\xbb\xbf" + data
    elif shape == "binary":
        data = bytes(range(256)) * 4
    if shape in ("gz", "truncated_gz"):
        packed = gzip.compress(data)
        Path(f"{name}.gz").write_bytes(packed[: max(10, len(packed) // 2)] if shape == "truncated_gz" else packed)
    else:
        name.write_bytes(data)


# No shrinking: each example is a whole run of the pipeline; a failure is reported as it was generated.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(specs=file_specs)
def test_any_folder_of_good_bad_and_empty_files_is_curated_to_the_end(specs, tmp_path_factory, ray_head):
    root = tmp_path_factory.mktemp("bad-input")
    folder = root / "in"
    folder.mkdir()
    for n, (fmt, shape, kinds) in enumerate(specs):
        write(folder, n, fmt, shape, kinds)
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "curate", f"input={folder}",
                           f"output={root / 'out'}", f"ray.address={ray_head.address}"],
                          capture_output=True, text=True, timeout=600, env=ray_head.env)
    assert done.returncode == 0, done.stderr[-4000:]
    out = root / "out"
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconciled"] and (out / "_SUCCESS").is_file()
    rejects = [json.loads(line) for p in (out / "rejects").glob("*.jsonl") for line in p.open(encoding="utf-8")]
    curated = [json.loads(line) for p in (out / "curated").glob("*.jsonl") for line in p.open(encoding="utf-8")]
    assert stats["documents_out"] == len(curated) and stats["documents_rejected"] == len(rejects)
    assert all(r.get("stage") and r.get("reason") and r.get("detail") for r in rejects)
    read = [r for r in rejects if r["stage"] == "read"]
    assert all(r["source"] and r["source"] in r["detail"] for r in read)  # each names its file
