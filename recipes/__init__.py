"""Tokenizer training/extension, Megatron dataset building, NeMo 2.0 recipe factories and the AutoConfigurator
wrapper. Empty until those issues land: the curation pipeline (curator_stages/, cantonese/) comes first."""
