"""Post-training in Cantonese: instruction data (instruct.py), preference data (preference.py), DPO and GRPO on TRL
(align.py), and NeMo-RL run configs for clusters (nemo_rl.py, nemo_rl/*.yaml, nemo_rl_env.py)."""
