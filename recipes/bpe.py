"""Continued byte-level BPE training: new merges learned on top of a base model's merges.

Extending a tokenizer by adding *merges* (not "added tokens") keeps every base merge and its priority, and appends
the new ones after them. BPE applies a lower-ranked merge only when no higher-ranked one applies, and each merge
joins two tokens into one, so on any text the extended tokenizer never gives more tokens than the base one: written
Chinese and English cannot get worse, and the base ids keep their meaning for the model's embeddings.

The learner is the classic greedy one (count adjacent pairs over word types, merge the most frequent, update only the
words that hold it), restricted to pairs whose result is whole UTF-8 characters, so a new token is never a byte
fragment of a character.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1)
def byte_decoder() -> dict[str, int]:
    """The GPT-2 byte-level alphabet, symbol -> byte (what ByteLevel pre-tokenizers and decoders use)."""
    visible = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    symbols, extra = list(visible), 0
    for b in range(256):
        if b not in visible:
            visible.append(b)
            symbols.append(256 + extra)
            extra += 1
    return {chr(s): b for b, s in zip(visible, symbols, strict=True)}


def to_bytes(token: str) -> bytes:
    table = byte_decoder()
    return bytes(table[ch] for ch in token)


def to_symbols(text: str) -> str:
    """Text -> its byte-level symbol string (the form vocab entries and merges take)."""
    table = {b: s for s, b in byte_decoder().items()}
    return "".join(table[b] for b in text.encode("utf-8"))


def is_whole_characters(token: str) -> bool:
    try:
        to_bytes(token).decode("utf-8")
    except (UnicodeDecodeError, KeyError):
        return False
    return True


def char_merges(pieces: list[str]) -> list[tuple[str, str]]:
    """Merges that make each character (given as its base-model tokens) a single token, left to right."""
    merges = []
    for left, *rest in ([p] if isinstance(p, str) else p for p in pieces):
        for right in rest:
            merges.append((left, right))
            left = left + right
    return merges


def learn_merges(
    words: Iterable[tuple[list[str], int]], max_merges: int, min_frequency: int = 2, progress=None,
) -> list[tuple[str, str]]:
    """Up to `max_merges` new merges, most frequent pair first, over (token sequence, count) word types. A pair whose
    result is already a token is still a useful merge (the base reaches that token another way); it costs no new id."""
    seqs: list[list[str]] = []
    counts: list[int] = []
    pairs: Counter[tuple[str, str]] = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    for seq, count in words:
        if len(seq) < 2:
            continue
        index = len(seqs)
        seqs.append(list(seq))
        counts.append(count)
        for pair in itertools.pairwise(seq):
            pairs[pair] += count
            where[pair].add(index)

    heap = [(-c, pair) for pair, c in pairs.items() if c >= min_frequency]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    banned: set[tuple[str, str]] = set()
    while heap and len(merges) < max_merges:
        neg, pair = heapq.heappop(heap)
        if pair in banned or -neg != pairs.get(pair, 0):
            continue  # stale entry: the count changed since it was pushed
        if -neg < min_frequency:
            break
        if not is_whole_characters(pair[0] + pair[1]):
            banned.add(pair)
            continue
        merges.append(pair)
        if progress is not None and len(merges) % 2000 == 0:
            progress(len(merges), -neg)
        merged = pair[0] + pair[1]
        touched: Counter[tuple[str, str]] = Counter()
        for index in where.pop(pair):
            seq, count = seqs[index], counts[index]
            for old in itertools.pairwise(seq):
                pairs[old] -= count
                touched[old] += 0
            seq = _apply(seq, pair, merged)
            seqs[index] = seq
            for new in itertools.pairwise(seq):
                pairs[new] += count
                where[new].add(index)
                touched[new] += 0
        pairs.pop(pair, None)
        for changed in touched:
            c = pairs.get(changed, 0)
            if c <= 0:
                pairs.pop(changed, None)
                where.pop(changed, None)
            elif c >= min_frequency and changed != pair:
                heapq.heappush(heap, (-c, changed))
    return merges


def _apply(seq: list[str], pair: tuple[str, str], merged: str) -> list[str]:
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == pair[0] and seq[i + 1] == pair[1]:
            out.append(merged)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out
