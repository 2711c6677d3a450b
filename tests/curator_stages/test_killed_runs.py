"""A killed run never leaves an output folder that looks complete: results are committed at the end with _SUCCESS;
a rerun into an unfinished folder refuses, saying what to do; a Ray worker killed mid-run is retried by Ray and the
counts still reconcile. A full disk is an error naming the path."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "canto_nemo.cli"]


@pytest.fixture(scope="module")
def big_input(tmp_path_factory, lihkg_posts) -> Path:
    """Enough real posts for a run of tens of seconds, in several files."""
    folder = tmp_path_factory.mktemp("killed") / "in"
    folder.mkdir()
    for part in range(6):
        (folder / f"part{part}.jsonl").write_text(
            "".join(json.dumps({"text": f"{t}（{part}-{i}）"}, ensure_ascii=False) + "\n"
                    for i, t in enumerate(lihkg_posts * 3)), encoding="utf-8")
    return folder


def start(folder: Path, out: Path, *extra: str) -> subprocess.Popen:
    # Ctrl-C as a terminal delivers it: a suite launched in the background (`cmd &` without job control) hands its
    # children an ignored SIGINT, and the run would then rightly finish instead of stopping.
    return subprocess.Popen([*CLI, "curate", f"input={folder}", f"output={out}", "batch_size=500", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_reading(out: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if any((out / "_work" / "read_counts").glob("*.json")):
            return
        time.sleep(0.2)
    raise AssertionError(f"the run did not start reading (exit {process.poll()})")


def descendants(pid: int) -> list[int]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(c) for c in children] + [d for c in children for d in descendants(int(c))]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def assert_unfinished_and_recoverable(folder: Path, out: Path) -> None:
    assert not (out / "_SUCCESS").exists() and not (out / "curated").exists() and not (out / "stats.json").exists()
    refused = subprocess.run([*CLI, "curate", f"input={folder}", f"output={out}"], capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2 and "holds an unfinished run" in refused.stderr and "overwrite=true" in \
        refused.stderr
    again = subprocess.run([*CLI, "curate", f"input={folder}", f"output={out}", "overwrite=true"],
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "stats.json").read_text())["reconciled"] and (out / "_SUCCESS").is_file()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_a_killed_driver_leaves_an_unfinished_folder_that_a_rerun_recovers(big_input, tmp_path, sig):
    out = tmp_path / "out"
    process = start(big_input, out)
    wait_for_reading(out, process)
    tree = descendants(process.pid)  # the run's private Ray head and its processes among them
    process.send_signal(sig)
    process.communicate(timeout=120)
    assert process.returncode != 0
    deadline = time.time() + 60  # Ray's processes share the driver's fate
    while time.time() < deadline and (alive := [pid for pid in tree if running(pid)]):
        time.sleep(0.5)
    assert not alive, [Path(f"/proc/{pid}/cmdline").read_bytes()[:200] for pid in alive if running(pid)]
    assert_unfinished_and_recoverable(big_input, out)


def test_a_killed_ray_worker_is_retried_and_counts_reconcile(big_input, tmp_path):
    out = tmp_path / "out"
    process = start(big_input, out)
    wait_for_reading(out, process)
    killed = None
    deadline = time.time() + 60
    while killed is None and time.time() < deadline and process.poll() is None:
        for pid in descendants(process.pid):
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace") if \
                Path(f"/proc/{pid}/cmdline").exists() else ""
            if cmd.startswith("ray::") and "Map" in cmd:
                os.kill(pid, signal.SIGKILL)
                killed = cmd.split("\x00")[0]
                break
        time.sleep(0.2)
    _, stderr = process.communicate(timeout=900)
    assert killed, "no Ray worker was running a stage"
    assert process.returncode == 0, stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["reconciled"] and stats["documents_in"] == 6 * 3 * 1000


def test_a_full_disk_is_an_error_naming_the_path(tmp_path, big_input):
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here to fill ({mounted.stderr.strip()})")
    try:
        done = subprocess.run([*CLI, "curate", f"input={big_input}", f"output={small / 'out'}"], capture_output=True,
                              text=True, timeout=900)
    finally:
        subprocess.run(["umount", str(small)], check=False)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "cannot write the run's output" in done.stderr and str(small) in done.stderr
    assert "Traceback" not in done.stderr
