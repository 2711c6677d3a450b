"""Local runs keep Ray on 127.0.0.1; the setting must come before Ray is imported, and our package import leaves
Ray unimported so that it can."""

import subprocess
import sys

import pytest


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_importing_the_package_does_not_import_ray():
    done = run("import sys, canto_nemo.curator_stages, canto_nemo.curator_stages.ray_env; print('ray' in sys.modules)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


@pytest.mark.slow
def test_a_local_run_binds_ray_to_loopback():
    done = run(
        "from canto_nemo.curator_stages import configure_ray; configure_ray(None)\n"
        "import ray; ray.init(num_cpus=1, include_dashboard=False)\n"
        "print(ray.util.get_node_ip_address(), ray.nodes()[0]['NodeManagerAddress']); ray.shutdown()"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["127.0.0.1", "127.0.0.1"]


def test_the_workflow_module_leaves_ray_unimported_until_it_runs():
    """CurationWorkflow.run() sets the Ray settings; importing the workflow (or composing its config) must not have
    imported Ray before that."""
    done = run("import sys; from canto_nemo.curator_stages.workflow import CurationWorkflow, compose\n"
               "compose(['input=a.jsonl', 'output=o'])\nprint('ray' in sys.modules)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_pipelines_inside_one_ray_job_share_its_workers():
    """NeMo Curator's Ray Data executor disconnects after each pipeline, which ends the job and its worker processes;
    inside one_ray_job two pipelines run in the same job (so on its workers), and the driver disconnects at the end."""
    done = run(
        "from canto_nemo.curator_stages.ray_env import PrivateRay, configure_ray, one_ray_job\n"
        "configure_ray(None, verbose=False)\n"
        "import os, ray\n"
        "from dataclasses import dataclass\n"
        "from nemo_curator.backends.ray_data import RayDataExecutor\n"
        "from nemo_curator.pipeline import Pipeline\n"
        "from nemo_curator.stages.base import ProcessingStage\n"
        "from nemo_curator.tasks import EmptyTask\n"
        "@dataclass\n"
        "class Where(ProcessingStage):\n"
        "    name: str = 'where'\n"
        "    def inputs(self): return [], []\n"
        "    def outputs(self): return [], []\n"
        "    def process(self, task):\n"
        "        task._metadata = {'job': ray.get_runtime_context().get_job_id(), 'pid': os.getpid()}\n"
        "        return task\n"
        "def where():\n"
        "    (task,) = Pipeline(name='p', stages=[Where()]).run(RayDataExecutor(), initial_tasks=[EmptyTask()])\n"
        "    return task._metadata\n"
        "with PrivateRay(None) as head:\n"
        "    with one_ray_job():\n"
        "        first, second = where(), where()\n"
        "        print('connected', ray.is_initialized())\n"
        "    print('after', ray.is_initialized())\n"
        "    third = where()\n"
        "print(first['job'] == second['job'], third['job'] != first['job'])\n"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[-3:] == ["connected True", "after False", "True True"], done.stdout
