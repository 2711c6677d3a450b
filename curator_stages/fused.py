"""Consecutive document stages run as one Curator stage, so a batch crosses the engine once instead of once per stage.

Ray Data turns every stage's output into a block before the next stage reads it. Curator's tasks are Python objects,
so that conversion first tries Arrow, fails, and builds its error message from the batch's repr (a DataFrame's)
before falling back: measured with py-spy on the default pipeline, a third of pass 1's worker time went there, once
per stage boundary. `fuse` groups runs of stages that ask for the same resources into one `FusedStages`; each inner
stage runs through NeMo Curator's own stage adapter (`BaseStageAdapter`), one task at a time as the engines give it
them, so it is timed under its own name in Curator's `StagePerfStats` and its outputs get the task ids the engine
would have derived at that stage boundary: a stage's rejects file is named from its task's id, so a retried task
overwrites its own file instead of adding a second one, and a fused run names its files as an unfused one does.

The reader is fused with the stages after it, so that a file is read and processed in one task: as a stage of its
own it ran ahead of the slower stages, and the process that ran it kept the memory of every batch it had handed on
(1.0 GB of private heap at 4x Wikipedia, growing with the corpus). Writers stay apart (NeMo Curator's, with their own
resources).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nemo_curator.backends.base import BaseStageAdapter
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.tasks import DocumentBatch, Task


@dataclass
class FusedStages(ProcessingStage[DocumentBatch, DocumentBatch]):
    stages: list[ProcessingStage] = field(default_factory=list)
    name: str = "fused"
    # One task per engine call, although Ray Data leaves a worker idle about 0.2 s between calls here (four per call
    # made Wikipedia's pass 1 32 s instead of 37 s): given several tasks whose outputs differ in number (a file read
    # into several batches, a batch left empty), NeMo Curator's adapter gives the outputs random ids, and the writers
    # name their files from them, so a retried task would write a second file.
    batch_size: int = 1

    def __post_init__(self) -> None:
        if not self.stages:
            msg = "FusedStages needs at least one stage"
            raise ValueError(msg)
        self.resources = self.stages[0].resources
        self.name = "+".join(stage.name for stage in self.stages)

    def inputs(self) -> tuple[list[str], list[str]]:
        return self.stages[0].inputs()

    def outputs(self) -> tuple[list[str], list[str]]:
        return self.stages[-1].outputs()

    def ray_stage_spec(self) -> dict:
        # An actor when any inner stage needs one (a model loaded in setup); otherwise tasks, as the stages would be.
        from nemo_curator.backends.ray_data.utils import is_actor_stage

        actor = any(stage.ray_stage_spec().get("is_actor_stage", is_actor_stage(stage)) for stage in self.stages)
        return {"is_actor_stage": actor}

    def setup_on_node(self, node_info=None, worker_metadata=None) -> None:
        for stage in self.stages:
            stage.setup_on_node(node_info, worker_metadata)

    def setup(self, worker_metadata=None) -> None:
        for stage in self.stages:
            stage.setup(worker_metadata)

    def teardown(self) -> None:
        for stage in self.stages:
            stage.teardown()

    def process(self, task: DocumentBatch) -> DocumentBatch | list[DocumentBatch] | None:
        results = self.process_batch([task])
        return results[0] if len(results) == 1 else results or None

    def process_batch(self, tasks: list[Task]) -> list[Task]:
        adapters = [BaseStageAdapter(stage) for stage in self.stages]
        return [out for task in tasks for out in self._through(adapters, task)]

    @staticmethod
    def _through(adapters: list[BaseStageAdapter], task: Task) -> list[Task]:
        """`task` through every stage, each output on its own: ids derive from one parent, as Curator's adapter
        derives them for a stage given one task (it gives random ids to a batch whose size a stage changes)."""
        current = [task]
        for adapter in adapters:
            current = [out for t in current for out in adapter.process_batch([t])]
        return current


def fuse(stages: list[ProcessingStage]) -> list[ProcessingStage]:
    """Runs of consecutive stages with equal resources, each as one FusedStages (a run of one stays as it is)."""
    groups: list[list[ProcessingStage]] = []
    for stage in stages:
        if groups and groups[-1][0].resources == stage.resources:
            groups[-1].append(stage)
        else:
            groups.append([stage])
    return [group[0] if len(group) == 1 else FusedStages(group) for group in groups]
