"""A real two-node Ray cluster (two `ray start` processes on this machine) curates and dedups exactly what a local
run does, and both nodes do work."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def curate(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "canto_nemo.cli", *args], capture_output=True, text=True,
                          timeout=900, env=env)


def records(folder: Path) -> list[dict]:
    rows = [json.loads(line) for p in folder.glob("*.jsonl") for line in p.open(encoding="utf-8")]
    return sorted(rows, key=lambda r: str(r["id"]))


def test_a_two_node_cluster_curates_what_a_local_run_does(tmp_path, lihkg_posts, make_ray_cluster):
    folder = tmp_path / "in"
    folder.mkdir()
    posts = lihkg_posts[:800] + lihkg_posts[:40]  # and some exact duplicates across files
    for part in range(8):  # several files: several read tasks to spread over the nodes
        (folder / f"part{part}.jsonl").write_text(
            "".join(json.dumps({"text": t, "post": i}, ensure_ascii=False) + "\n"
                    for i, t in enumerate(posts) if i % 8 == part), encoding="utf-8")
    local = curate("curate", f"input={folder}", f"output={tmp_path / 'local'}", "batch_size=50")
    assert local.returncode == 0, local.stderr[-3000:]
    cluster = make_ray_cluster(nodes=2, dashboard=True)
    remote = curate("curate", f"input={folder}", f"output={tmp_path / 'cluster'}", "batch_size=50",
                    f"ray.address={cluster.address}", env=cluster.env)
    assert remote.returncode == 0, remote.stderr[-3000:]
    dedup = curate("dedup", f"input={folder}", f"output={tmp_path / 'cluster_dedup'}",
                   f"ray.address={cluster.address}", env=cluster.env)
    assert dedup.returncode == 0, dedup.stderr[-3000:]
    assert len(cluster.task_nodes()) == 2  # both nodes ran stages of the runs
    cluster.stop()
    assert records(tmp_path / "cluster" / "curated") == records(tmp_path / "local" / "curated")
    drop = ("detail",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in records(tmp_path / "cluster" / "rejects")] == \
        [{k: v for k, v in r.items() if k not in drop} for r in records(tmp_path / "local" / "rejects")]
    local_dedup = curate("dedup", f"input={folder}", f"output={tmp_path / 'local_dedup'}")
    assert local_dedup.returncode == 0, local_dedup.stderr[-3000:]
    assert records(tmp_path / "cluster_dedup" / "curated") == records(tmp_path / "local_dedup" / "curated")
    assert records(tmp_path / "cluster_dedup" / "rejects") == records(tmp_path / "local_dedup" / "rejects")
    assert len(records(tmp_path / "cluster_dedup" / "rejects")) >= 40  # the 40 copies, and the posts' own
