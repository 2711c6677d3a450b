"""A second language pack, written only against the interface: a made-up Latin-script language ("Toy") with two
varieties, "toy" (marked by the particle "ka") and "standard". Nothing in curator_stages knows it."""

from __future__ import annotations

import re

from canto_nemo.curator_stages.language_pack import DialectDetector, DialectResult, LanguagePack, PiiPattern


class ToyDetector(DialectDetector):
    def detect_batch(self, texts):
        results = []
        for text in texts:
            words = re.findall(r"[a-z]+", text.lower())
            if not words:
                results.append(DialectResult("other", 0.0, None))
                continue
            share = sum(w == "ka" for w in words) / len(words)
            results.append(DialectResult("toy" if share else "standard", min(1.0, 0.5 + share * 5), share))
        return results


def _sample():
    yield "1", "Mira ka tolen vesi ka, ama sori."
    yield "2", "Mira tolen vesi, ama sori."


class ToyPack(LanguagePack):
    name = "toy"
    script_class = r"\p{Latin}"
    dialect_labels = ("toy", "standard", "other")
    default_keep_labels = ("toy",)
    corpus_scheme = "toycorpus"
    target_label = "toy"
    standard_label = "standard"

    def lexicon(self):
        return frozenset({"mira", "tolen", "vesi", "ka"})

    def protected_chars(self):
        return frozenset()

    def variant_converter(self, profile):
        return lambda text: text.replace("ſ", "s")

    def pii_patterns(self):
        return (PiiPattern("EMAIL", re.compile(r"[\w.]+@[\w.]+\.[a-z]{2,}", re.IGNORECASE)),)

    def dialect_detector(self):
        return ToyDetector()

    def fold_variants(self, texts):
        return [t.lower() for t in texts]

    def corpora(self):
        return {"sample": _sample}

    def off_script_share(self, text):
        # "ſ" is the toy language's old spelling: a model that writes it is off script.
        letters = re.findall(r"[a-zſ]", text.lower())
        return letters.count("ſ") / len(letters) if letters else 0.0

    def reward(self, completions, **columns):
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        results = ToyDetector().detect_batch(texts)
        return [r.score * (1 - self.off_script_share(t)) for r, t in zip(results, texts, strict=True)]


PACK = ToyPack()
