"""Shared test fixtures: the real data in ../shared/data, and small real samples of it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

csv.field_size_limit(sys.maxsize)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is not beside the repository (looked in {SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lihkg_posts(shared_data: Path) -> list[str]:
    """The text of the real LIHKG posts (test split)."""
    with (shared_data / "lihkg" / "test.tsv").open(encoding="utf-8") as f:
        return [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need CUDA; on a CPU machine they are skipped, saying why."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    """A real Ray cluster of `nodes` nodes on this machine, each a `ray start` process of its own; stopped by its
    own handles (never `ray stop`, which would stop every Ray on the machine)."""

    def __init__(self, nodes: int, cpus_per_node: int, dashboard: bool = False) -> None:
        import os
        import subprocess
        import tempfile
        import time

        tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 characters
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        ray = str(Path(sys.executable).parent / "ray")
        # One node: everything on loopback. Several: Ray refuses multi-node clusters under the loopback setting and
        # rewrites 127.0.0.1 to this machine's own address, which is where the nodes then listen.
        self.env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0" if nodes == 1 else "1"}
        self.env.pop("RAY_ADDRESS", None)
        common = ["--block", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]
        self.processes = [subprocess.Popen(
            [ray, "start", "--head", f"--port={self.port}",
             *(["--include-dashboard=true", f"--dashboard-port={free_port()}", "--dashboard-host=127.0.0.1"]
               if dashboard else ["--include-dashboard=false"]),
             f"--temp-dir={tmp}", "--node-ip-address=127.0.0.1", *common],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
        self._wait_for(1)
        for _ in range(nodes - 1):
            self.processes.append(subprocess.Popen(
                [ray, "start", f"--address={self.address}", "--node-ip-address=127.0.0.1", *common],
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        self._wait_for(nodes)
        time.sleep(1)

    def task_nodes(self) -> set[str]:
        """The nodes that ran the finished tasks of the stages (Ray's state API: needs dashboard=True)."""
        import subprocess

        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR')\n"
                 "from ray.util.state import list_tasks\n"
                 "tasks = list_tasks(address=sys.argv[1], filters=[('state', '=', 'FINISHED')], limit=10000,\n"
                 "                   raise_on_missing_output=False)\n"
                 "print(' '.join(sorted({t.node_id for t in tasks if 'MapBatches' in t.name})))")
        done = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True,
                              env=self.env, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return set(done.stdout.split())

    def _wait_for(self, nodes: int, timeout: float = 90) -> None:
        import subprocess
        import time

        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR');"
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        deadline = time.time() + timeout
        while time.time() < deadline:
            done = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True,
                                  env=self.env, timeout=60)
            if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(nodes)]:
                return
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the Ray cluster at {self.address} did not come up with {nodes} node(s)")

    def stop(self) -> None:
        import os
        import signal

        for process in reversed(self.processes):
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=5)
            except (ProcessLookupError, OSError):
                pass
            except Exception:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="session")
def ray_head():
    """One running local Ray (a single node on loopback) that several runs join, as a cluster user's would."""
    cluster = RayCluster(nodes=1, cpus_per_node=2)
    yield cluster
    cluster.stop()


@pytest.fixture
def make_ray_cluster():
    """A function starting a RayCluster(nodes, cpus_per_node); each is stopped when the test ends."""
    started = []

    def make(nodes: int, cpus_per_node: int = 1, dashboard: bool = False) -> RayCluster:
        started.append(RayCluster(nodes, cpus_per_node, dashboard))
        return started[-1]

    yield make
    for cluster in started:
        cluster.stop()


def build_tiny_model(folder: Path, texts: list[str], vocab_size: int = 2000, seed: int = 0) -> Path:
    """A tiny random Qwen2 causal LM (2 layers, hidden 64) with a byte-level BPE trained on `texts` (ChatML template),
    saved as a Hugging Face folder: for plumbing tests of evaluation, serving and alignment, never for quality."""
    import json

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from canto_nemo.recipes import tokenizer

    corpus = folder.parent / f"{folder.name}-corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    info = tokenizer.train(str(corpus), str(folder), vocab_size=vocab_size, progress=lambda s: None)
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=info["padded_vocab_size"], hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True, eos_token_id=info["eod_id"],
                         bos_token_id=info["eod_id"], pad_token_id=info["eod_id"])
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def make_tiny_model():
    """build_tiny_model, for tests that need a second model (conftest is not importable under importlib mode)."""
    return build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, lihkg_posts) -> Path:
    """tests' shared tiny model folder (see build_tiny_model)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", lihkg_posts)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browser(tmp_path):
    """Debian's headless Chromium driven by Selenium (scripts/setup.sh installs both)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium (and its driver): apt-get install chromium "
                    "chromium-driver fonts-noto-cjk, or run scripts/setup.sh as root")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()
