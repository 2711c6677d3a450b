"""Cantonese language data for instruction and preference data (canto-nemo instruct): the seed prompts (lexicon words
with Jyutping, a mined vocabulary's words in their example sentences, Hong Kong personas, questions about
documents), the system prompt, refusal phrases, the request that turns an answer into written Chinese, and a
word-list converter that does the same without an endpoint.

The stages that use them (curator_stages/instruct.py) know nothing of Cantonese; everything here is the pack's.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import yaml

SYSTEM_PROMPT = ("你係一個用香港粵語口語回答問題嘅助手。一定要用繁體字同廣東話口語（例如：係、嘅、咗、唔、佢哋、"
                 "乜嘢），唔好用書面語或者普通話。")

# The issue's own examples come first, so every lexicon seed set holds them.
FIRST_WORDS = ("吹水", "大肚")
EXPLAIN = "「{word}」（粵拼：{jyutping}）係咩意思？請用廣東話解釋，再舉一個例句。"
USE_IN_SENTENCE = "用「{word}」（粵拼：{jyutping}）作一句廣東話句子，再講吓句子嘅意思。"
IN_CONTEXT = "「{word}」（粵拼：{jyutping}）喺呢句入面係咩意思？「{example}」請用廣東話解釋，再作一句新嘅例句。"
PERSONA_QUESTION = ("假設你係{who}。就住「{topic}」，用廣東話口語寫一條你會問AI助手嘅問題。淨係寫問題，唔好答，"
                    "唔好加引號。")
DOCUMENT_QUESTION = "閱讀下面呢段文字，然後用廣東話口語寫一條讀者會問嘅問題。淨係寫問題，唔好答。\n\n{document}"
DOCUMENT_ANSWER = "根據下面呢段文字，用廣東話回答問題。\n\n{document}\n\n問題：{question}"
TO_WRITTEN_CHINESE = ("請將下面這段粵語改寫成標準書面中文（普通話的說法），意思不變，不要用粵語字詞，"
                      "只輸出改寫後的文字：\n\n{text}")

# Phrases with which assistants decline or talk about themselves instead of answering (Cantonese, written Chinese
# in both scripts, English). Regular expressions, matched anywhere in the first 80 characters.
REFUSAL_PATTERNS = (
    r"對唔住[，,]?\s*我(?:唔可以|唔能夠|做唔到|冇辦法|無法)", r"我(?:唔可以|冇辦法)(?:幫|答|回答|提供)",
    r"(?:抱歉|對不起|对不起)[，,]?\s*我(?:無法|无法|不能)", r"我(?:無法|无法|不能)(?:回答|提供|協助|协助)",
    r"作為一個?(?:AI|人工智能|語言模型)", r"作为一个?(?:AI|人工智能|语言模型)", r"(?i)as an ai\b",
    r"(?i)\bi(?:'m| am) (?:sorry|unable)\b", r"(?i)\bi can(?:no|')t (?:help|answer|provide)\b",
)


@dataclass(frozen=True)
class Persona:
    id: str
    who: str
    topics: tuple[str, ...]


def personas(path: str | Path | None = None) -> list[Persona]:
    """The personas YAML (default: the pack's data/personas.yaml). Raises ValueError naming the file and entry for
    a malformed one."""
    source = Path(path) if path else files("canto_nemo.cantonese") / "data" / "personas.yaml"
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ValueError(f"personas file {source} is not valid YAML: {err}") from None
    entries = data.get("personas") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"personas file {source} has no `personas:` list")
    result = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, dict) and isinstance(entry.get("id"), str) and isinstance(entry.get("who"), str)
                and isinstance(entry.get("topics"), list) and entry["topics"]):
            raise ValueError(f"personas file {source}, entry {i + 1}: needs id, who and a non-empty topics list")
        result.append(Persona(entry["id"], entry["who"], tuple(str(t) for t in entry["topics"])))
    return result


@cache
def _seed_words() -> tuple[str, ...]:
    """Lexicon words of 2-4 characters that the dialect judge calls Cantonese (not words common to written Chinese):
    what a Cantonese instruction about a word should teach."""
    from canto_nemo.cantonese.dialect import detect_dialect_batch
    from canto_nemo.cantonese.lexicon import jyutping_lexicon

    candidates = sorted(w for w in jyutping_lexicon() if 2 <= len(w) <= 4)
    candidates = random.Random(0).sample(candidates, min(6000, len(candidates)))
    judged = detect_dialect_batch(candidates)
    return tuple(sorted(w for w, r in zip(candidates, judged, strict=True) if r.label == "cantonese"))


def lexicon_seeds(count: int, seed: int = 0) -> list[dict]:
    """`count` seeds about Cantonese words with their Jyutping, alternating "explain it" and "use it in a sentence"."""
    from canto_nemo.cantonese.lexicon import jyutping_lexicon

    jyutping = jyutping_lexicon()
    rest = [w for w in _seed_words() if w not in FIRST_WORDS]
    words = [*FIRST_WORDS, *random.Random(seed).sample(rest, min(len(rest), max(0, count - len(FIRST_WORDS))))]
    seeds = []
    for i, word in enumerate(words[:count]):
        template, kind = (EXPLAIN, "explain") if i % 2 == 0 else (USE_IN_SENTENCE, "use")
        seeds.append({"id": f"lexicon-{kind}-{word}", "kind": f"lexicon_{kind}", "source": word,
                      "prompt": template.format(word=word, jyutping=jyutping[word])})
    return seeds


def vocabulary_seeds(entries: Sequence[dict], count: int, seed: int = 0) -> list[dict]:
    """`count` seeds from a mined vocabulary's entries (canto-nemo vocab: word, jyutping, cantonese_specific,
    examples): its Cantonese-specific words with Jyutping, asked about in one of their example sentences where the
    vocabulary has one (the word as the corpus uses it), else explained."""
    usable = [e for e in entries
              if e.get("cantonese_specific") and isinstance(e.get("word"), str) and e.get("jyutping")]
    picked = random.Random(seed).sample(usable, min(count, len(usable)))
    seeds = []
    for entry in picked:
        word = entry["word"]
        jyutping = entry["jyutping"] if isinstance(entry["jyutping"], str) else " ".join(entry["jyutping"])
        examples = [x.get("text") for x in entry.get("examples") or [] if isinstance(x, dict) and x.get("text")]
        if examples:
            prompt = IN_CONTEXT.format(word=word, jyutping=jyutping, example=examples[0][:200])
        else:
            prompt = EXPLAIN.format(word=word, jyutping=jyutping)
        seeds.append({"id": f"vocab-{word}", "kind": "vocabulary", "source": word, "prompt": prompt})
    return seeds


def persona_seeds(count: int, seed: int = 0, path: str | Path | None = None) -> list[dict]:
    """`count` seeds (persona, topic) asking the endpoint for the question such a person would ask; the question is
    then answered."""
    pairs = [(p, t) for p in personas(path) for t in p.topics]
    random.Random(seed).shuffle(pairs)
    return [{"id": f"persona-{p.id}-{t}", "kind": "persona", "source": p.id,
             "question_prompt": PERSONA_QUESTION.format(who=p.who, topic=t)} for p, t in pairs[:count]]


def document_seeds(documents: Iterable[tuple[str, str]], max_chars: int = 600) -> list[dict]:
    """One seed per (id, text) document: a question a reader would ask about it, then the answer from it."""
    return [{"id": f"document-{doc_id}", "kind": "document", "source": doc_id, "document": text[:max_chars],
             "question_prompt": DOCUMENT_QUESTION.format(document=text[:max_chars])} for doc_id, text in documents]


def answer_prompt(seed: dict, question: str) -> str:
    """The user turn of a generated question: a document's question carries its document."""
    if seed.get("kind") == "document":
        return DOCUMENT_ANSWER.format(document=seed["document"], question=question)
    return question


class WrittenChineseConverter:
    """Cantonese words to their written-Chinese counterparts, longest match first, from word lists of pairs (the
    kaifangcidian `Cantonese<TAB>gloss` list and the `Mandarin|Cantonese` cmn2yue dictionary). Only pairs whose
    Cantonese side the dialect judge calls Cantonese are used, so common characters (下, 個) are never rewritten; a
    word's counterpart is the one both lists agree on, else the first short gloss."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self.pairs = pairs
        self.longest = max(map(len, pairs), default=0)

    @classmethod
    def from_files(cls, kfcd_words: str | Path | None = None, cmn2yue: str | Path | None = None
                   ) -> WrittenChineseConverter:
        from canto_nemo.cantonese.dialect import detect_dialect_batch

        glosses: dict[str, list[str]] = {}
        mandarin: dict[str, set[str]] = {}
        if kfcd_words:
            for line in Path(kfcd_words).read_text(encoding="utf-8").splitlines():
                word, _, gloss = line.partition("\t")
                if word and _short_gloss(word, gloss):
                    glosses.setdefault(word, []).append(gloss)
        if cmn2yue:
            for line in Path(cmn2yue).read_text(encoding="utf-8").splitlines()[1:]:
                gloss, _, word = line.partition("|")
                if word and _short_gloss(word, gloss):
                    mandarin.setdefault(word, set()).add(gloss)
        chosen = {}
        for word in sorted(set(glosses) | set(mandarin)):
            both = [g for g in glosses.get(word, []) if g in mandarin.get(word, ())]
            options = both or glosses.get(word) or sorted(mandarin[word], key=lambda g: (len(g), g))
            chosen[word] = options[0]
        words = list(chosen)
        judged = detect_dialect_batch(words)
        targets = detect_dialect_batch([chosen[w] for w in words])
        return cls({w: chosen[w] for w, r, t in zip(words, judged, targets, strict=True)
                    if r.label == "cantonese" and t.label != "cantonese"})

    def convert(self, text: str) -> str:
        out, i = [], 0
        while i < len(text):
            for size in range(min(self.longest, len(text) - i), 0, -1):
                written = self.pairs.get(text[i:i + size])
                if written is not None:
                    out.append(written)
                    i += size
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)


def _short_gloss(word: str, gloss: str) -> bool:
    """A counterpart, not an explanation: no longer than the word plus two characters, no brackets or separators."""
    return (bool(gloss) and gloss != word and len(gloss) <= len(word) + 2
            and not any(c in gloss for c in "（）()，,;；/、 \""))


def refusal_patterns() -> Sequence[str]:
    return REFUSAL_PATTERNS
