"""Evaluation of a model: Yue-Benchmark as lm-evaluation-harness tasks, bits per character, dialect fidelity."""
