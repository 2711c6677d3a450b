"""From curated text to training: tokenizers (`tokenizer`, `bpe`), Megatron datasets (`megatron_data`), a CPU smoke
training through megatron-core (`smoke_train`), NeMo 2.0 recipe factories (`nemo_recipes`, checked at launch by
`launch`), base checkpoints for continued pretraining (`checkpoint`) and AutoConfigurator sweeps (`sweep`).

Modules import their heavy dependencies (megatron-core, NeMo) only where they need them; `nemo_recipes` is loaded by
NeMo-Run through the `nemo_run.cli` entry point."""
