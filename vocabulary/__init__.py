"""A Cantonese vocabulary mined from the corpus (`mine`): candidate words from curated text, scored and checked
against the pack's lexicon and reference texts."""
