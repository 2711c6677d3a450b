"""vocabulary.mine: a vocabulary mined from real Cantonese Wikipedia text and from generated text whose words are known;
its outputs, and the tokenizer and the dialect judge taking its words."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from canto_nemo.cantonese import dialect
from canto_nemo.cantonese.vocab import evidence_detector, specific_words
from canto_nemo.cli import main
from canto_nemo.curator_stages.language_pack import get_pack
from canto_nemo.recipes import tokenizer as tok
from canto_nemo.vocabulary.mine import FILES, build, load_vocab, rate_ratio_bound, vocab_words

QUIET = {"progress": lambda message: None}
# Words of a generated text; 𠀋𠀌 is of characters that neither Qwen2.5 nor the pack's lexicon has as one token.
WORDS = ["香港", "天氣", "好熱", "我哋", "食飯", "飲茶", "今日", "落雨", "𠀋𠀌"]


@pytest.fixture(scope="module")
def wiki(shared_data) -> Path:
    return shared_data / "yue_wikipedia" / "wiki_00.jsonl.gz"


@pytest.fixture(scope="module")
def mined(wiki, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vocab") / "out"
    build(str(wiki), str(out), max_chars=150_000, max_words=3000, **QUIET)
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory, shared_data) -> Path:
    """Sentences of 3 to 12 words drawn at random from WORDS, as curated JSONL (mined against the written-Chinese
    references in ../shared/data/dialect_train: skipped without them)."""
    rng = random.Random(7)
    folder = tmp_path_factory.mktemp("generated") / "curated"
    folder.mkdir()
    with (folder / "part.jsonl").open("w", encoding="utf-8") as f:
        for n in range(600):
            text = "。".join("".join(rng.choices(WORDS, k=rng.randint(3, 12))) for _ in range(3)) + "。"
            f.write(json.dumps({"id": f"gen:{n}", "text": text}, ensure_ascii=False) + "\n")
    return folder.parent


def test_mining_finds_exactly_the_words_of_a_generated_text(generated, tmp_path):
    summary = build(str(generated), str(tmp_path / "v"), **QUIET)
    entries = load_vocab(tmp_path / "v")
    # Characters that always stand next to the same one, and spans across two words, are not free on both sides.
    assert sorted(e["word"] for e in entries) == sorted(WORDS)
    assert summary["entries"] == len(WORDS) and summary["documents"] == 600
    assert [e["rank"] for e in entries] == list(range(1, len(WORDS) + 1))


def test_entries_have_every_field(mined, wiki):
    entries = load_vocab(mined)
    assert 1000 < len(entries) <= 3000
    by_word = {e["word"]: e for e in entries}
    ge = by_word["嘅"]
    assert ge["rank"] <= 10 and ge["cantonese_specific"] and ge["jyutping"] == "ge3" and ge["pos"] == "PART"
    assert by_word["香港"]["jyutping"] == "hoeng1 gong2"
    assert "了" in by_word["咗"]["written_equivalents"]  # from the dialect_train word lists
    assert not by_word["年"]["cantonese_specific"]  # shared with written Chinese
    for e in entries:
        assert set(e) >= {
            "word",
            "frequency",
            "cantonese_specificity",
            "cantonese_specific",
            "fragment_of",
            "jyutping",
            "pos",
            "written_equivalents",
            "examples",
            "frequency_ratio",
        }
        assert e["frequency"] >= 5 and isinstance(e["written_equivalents"], list)
        assert 1 <= len(e["examples"]) <= 3
        assert all(e["word"] in x["text"] and x["id"] for x in e["examples"])
    for e in entries:  # marked at 2.0, except what is declined, and why
        assert e["cantonese_specific"] == (e["cantonese_specificity"] >= 2.0 and e["declined"] is None)
        why = (
            "phrase"
            if e["fragment_of"]
            else "segmenter"
            if e["segmenter_splits"]
            else "name"
            if e["pos"] == "PROPN"
            else None
        )
        assert e["declined"] == why
        assert 0 < e["dispersion"] <= 1 and 1 <= e["documents"] <= e["frequency"]


def test_a_phrase_around_a_word_is_not_specific_while_a_compound_is(mined):
    by_word = {e["word"]: e for e in load_vocab(mined)}
    # 係 glued to 香港, 嘅 to 唔同: their specificity is the particle's, which ranks on its own.
    for phrase, part in (("係香港", "係"), ("唔同嘅", "嘅")):
        e = by_word[phrase]
        assert e["cantonese_specificity"] >= 2.0 and not e["cantonese_specific"] and e["fragment_of"] == part
        assert by_word[part]["cantonese_specific"]
    for word in ("佢哋", "同埋", "嘅"):  # 佢 + 哋 (not a word alone), 同 + 埋: two characters are left alone
        assert by_word[word]["cantonese_specific"] and by_word[word]["fragment_of"] is None
    declined = [e for e in by_word.values() if e["fragment_of"]]
    assert declined
    for e in declined:  # a specific entry at one end, a vocabulary word of 2+ characters at the other
        word, part = e["word"], e["fragment_of"]
        rests = {word[len(part) :] if word.startswith(part) else "", word[: -len(part)] if word.endswith(part) else ""}
        assert len(word) >= 3 and any(len(r) >= 2 and r in by_word for r in rests), word
        assert by_word[part]["cantonese_specificity"] >= 2.0 and not e["cantonese_specific"]


def test_what_the_segmenter_splits_and_names_are_not_specific(mined):
    entries = load_vocab(mined)
    by_word = {e["word"]: e for e in entries}
    # A verb and its aspect marker, a demonstrative and its classifier: the corpus uses them far more than written
    # Chinese does, but the segmenter cuts them apart, and their specificity is the marker's.
    split = [e for e in entries if e["declined"] == "segmenter" and e["cantonese_specificity"] >= 2.0]
    assert split and all(e["segmented_share"] < 0.5 for e in split)
    assert any(e["word"].endswith("咗") for e in split)
    assert by_word["咗"]["cantonese_specific"]
    names = [e for e in entries if e["declined"] == "name" and e["cantonese_specificity"] >= 2.0]
    assert names and all(e["pos"] == "PROPN" and not e["cantonese_specific"] for e in names)
    # The segmenter cuts 佢哋 and 同埋 as one word: they stay.
    assert by_word["佢哋"]["segmented_share"] > 0.5 and not by_word["佢哋"]["segmenter_splits"]


def test_a_word_repeated_in_few_documents_counts_as_less_used(tmp_path, shared_data):
    """Two made-up words as frequent as each other in the same texts, one spread over every document, the other
    packed into a tenth of them: the same counts against written Chinese, but the second is a topic's word."""
    rng = random.Random(3)
    folder = tmp_path / "corpus"
    folder.mkdir()
    filler = ["我哋", "今日", "食飯", "天氣", "好熱", "飲茶"]
    with (folder / "part.jsonl").open("w", encoding="utf-8") as f:
        for n in range(1000):
            words = rng.choices(filler, k=20) + ["𠀋𠀌"] + (["𠀍𠀎"] * 10 if n % 10 == 0 else [])
            rng.shuffle(words)
            f.write(json.dumps({"id": f"d{n}", "text": "".join(words) + "。"}, ensure_ascii=False) + "\n")
    build(str(folder), str(tmp_path / "v"), segment_share=0.0, **QUIET)
    by_word = {e["word"]: e for e in load_vocab(tmp_path / "v")}
    spread, packed = by_word["𠀋𠀌"], by_word["𠀍𠀎"]
    assert spread["frequency"] == packed["frequency"] == 1000
    assert spread["written_counts"] == packed["written_counts"] == {"reference_texts": 0, "reference_dictionary": 0}
    assert spread["documents"] == 1000 and packed["documents"] == 100
    assert spread["dispersion"] > 0.95 and packed["dispersion"] < 0.2
    assert spread["cantonese_specificity"] > packed["cantonese_specificity"] + 1.5


def test_a_word_the_references_never_write_is_the_most_specific():
    y = np.asarray([500, 500, 3])
    bound = rate_ratio_bound(y, 15e6, np.asarray([0, 3, 0]), 60e6)
    # Never written beats written three times (a normal approximation of the log-odds had it the other way round);
    # three occurrences are too few to tell either way.
    assert bound[0] > bound[1] > 2.0 > bound[2]


def test_examples_come_from_distinct_documents_with_their_ids(mined, wiki):
    import gzip

    texts, read = {}, 0
    with gzip.open(wiki, "rt", encoding="utf-8") as f:
        for record in map(json.loads, f):  # the documents the miner read: up to the one that reached max_chars
            texts[str(record["id"])] = record["text"]
            read += len(record["text"])
            if read >= 150_000:
                break
    for e in load_vocab(mined)[:300]:
        ids = [x["id"] for x in e["examples"]]
        holding = sum(e["word"] in t for t in texts.values())
        assert len(set(ids)) == min(3, holding), e["word"]
        assert all(x["text"] in texts[x["id"]] for x in e["examples"])


def test_tsv_and_page_hold_the_same_entries(mined):
    entries = load_vocab(mined)
    lines = (mined / "vocab.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [r["word"] for r in rows] == [e["word"] for e in entries]
    assert rows[0]["jyutping"] == entries[0]["jyutping"]
    page = (mined / "vocab.html").read_text(encoding="utf-8")
    assert '<input id="q"' in page and page.count("</script>") == 2  # no entry can close the data's script
    data = page.split('<script id="data" type="application/json">')[1].split("</script>")[0]
    assert [e["word"] for e in json.loads(data)] == [e["word"] for e in entries]
    summary = json.loads((mined / "vocab.json").read_text(encoding="utf-8"))
    assert summary["entries"] == len(entries) and "seconds" not in summary
    assert sorted(p.name for p in mined.iterdir()) == sorted(FILES)  # nothing of the work left


def test_a_person_searches_the_page(mined, browser):
    """vocab.html in headless Chromium: a search narrows the list to the entries that hold it, the checkbox to the
    marked ones, and an entry that can never be marked says why."""
    from selenium.webdriver.common.by import By

    entries = load_vocab(mined)
    browser.get((mined / "vocab.html").as_uri())

    def shown() -> list[str]:
        return [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".entry .word")]

    assert shown() == [e["word"] for e in entries[:200]]  # the first 200, in rank order
    name = next(e for e in entries[:200] if e["declined"] == "name")
    row = browser.find_elements(By.CSS_SELECTOR, ".entry")[name["rank"] - 1]
    assert "never marked: a name" in row.text and name["jyutping"] in row.text
    browser.find_element(By.ID, "q").send_keys("咗")
    hits = [e for e in entries if "咗" in e["word"] or any("咗" in x["text"] for x in e["examples"])]
    assert shown() == [e["word"] for e in hits[:200]]
    assert f"{len(hits)} of {len(entries)} entries" in browser.find_element(By.ID, "n").text
    browser.find_element(By.ID, "specific").click()
    assert shown() == [e["word"] for e in hits if e["cantonese_specific"]][:200]
    assert "咗" in shown()


def test_same_corpus_same_files(generated, tmp_path):
    for name in ("a", "b"):
        build(str(generated), str(tmp_path / name), **QUIET)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_output_policy_and_bad_input(generated, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        build(str(generated), str(out), **QUIET)
    assert (out / "keep.txt").exists()
    build(str(generated), str(out), overwrite=True, **QUIET)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)

    with pytest.raises(FileNotFoundError, match="no-such-corpus"):
        build(str(tmp_path / "no-such-corpus"), str(tmp_path / "o1"), **QUIET)
    assert not (tmp_path / "o1").exists()  # refused before the output is made
    english = tmp_path / "english.jsonl"
    english.write_text('{"text": "only English here"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"no \\p\{Han\} characters in .*english.jsonl"):
        build(str(english), str(tmp_path / "o2"), **QUIET)
    assert list((tmp_path / "o2").iterdir()) == []  # nothing half-written
    assert "english.jsonl line 2" in capsys.readouterr().err  # the unreadable line, named
    with pytest.raises(ValueError, match="max_length=5"):
        build(str(generated), str(tmp_path / "o3"), max_length=5, **QUIET)
    with pytest.raises(FileNotFoundError, match=r"no vocabulary at .*o2.*vocab\.jsonl"):
        load_vocab(tmp_path / "o2")


def test_entries_serve_as_seeds_and_lexicon(mined):
    entries = load_vocab(mined)
    seeds = [e for e in entries if e["cantonese_specific"] and len(e["word"]) >= 2]
    assert seeds and all(e["jyutping"] and e["examples"] for e in seeds[:20])
    assert vocab_words(mined) == [e["word"] for e in entries]
    specific = vocab_words(mined, specific_only=True)
    assert "嘅" in specific and "年" not in specific and set(specific) == set(specific_words(mined))


def test_cli_vocab(generated, tmp_path, capsys):
    assert main(["vocab", f"corpus={generated}", f"output={tmp_path / 'v'}", "max_words=5"]) == 0
    assert len(load_vocab(tmp_path / "v")) == 5
    assert main(["vocab", f"corpus={generated}", f"output={tmp_path / 'v'}"]) == 2  # not empty: refused
    assert "overwrite=true" in capsys.readouterr().err
    assert main(["vocab", "--help"]) == 0
    assert "min_pmi" in capsys.readouterr().out
    assert main(["vocab", f"corpus={generated}", f"output={tmp_path / 'w'}", "min_pmmi=2"]) == 2


def test_tokenizer_extend_takes_the_vocabulary(generated, lihkg_posts, tmp_path):
    vocab = tmp_path / "vocab"
    build(str(generated), str(vocab), **QUIET)
    corpus = tmp_path / "posts.jsonl"
    corpus.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in lihkg_posts[:50]), encoding="utf-8"
    )
    info = tok.extend("qwen2.5", str(corpus), str(tmp_path / "lex"), new_merges=0, lexicon=str(vocab), **QUIET)
    pack_lexicon = get_pack("cantonese").lexicon()
    assert info["lexicon_words"] == len(pack_lexicon | set(WORDS))
    for char in "𠀋𠀌":  # only the vocabulary has them (not the posts, not the pack's lexicon, not Qwen2.5)
        assert not any(char in w for w in pack_lexicon) and not any(char in t for t in lihkg_posts[:50])
        assert len(tok.load("qwen2.5").encode(char).ids) > 1
        assert len(tok.load(str(tmp_path / "lex")).encode(char).ids) == 1
    with pytest.raises(FileNotFoundError, match="no vocabulary"):
        tok.extend("qwen2.5", str(corpus), str(tmp_path / "bad"), lexicon=str(tmp_path / "nothing"), **QUIET)
    assert not (tmp_path / "bad").exists()  # refused before any output


def test_dialect_judge_takes_the_specific_words_as_evidence(mined):
    base = dialect.detector()
    judge = evidence_detector(mined)
    words = [w for w in specific_words(mined) if 1 <= len(w) <= 3]
    codes = [dialect.encode(f) for f in dialect.fold(words)]
    assert (judge._lookup(np.asarray(codes)) >= dialect.EVIDENCE_WEIGHT).all()
    sentences = sorted({x["text"] for e in load_vocab(mined) if e["cantonese_specific"] for x in e["examples"]})
    before, after = base.detect_batch(sentences), judge.detect_batch(sentences)
    assert all(a.score >= b.score - 1e-12 for a, b in zip(after, before, strict=True))
    gained = [
        s for s, b, a in zip(sentences, before, after, strict=True) if b.label != "cantonese" and a.label == "cantonese"
    ]
    assert gained  # real sentences the judge could not decide and now calls Cantonese on the mined words
    assert base.with_evidence([]).weights.tolist() == base.weights.tolist()


def test_without_the_written_references_the_error_names_the_folder(tmp_path):
    from canto_nemo.cantonese.vocab import CantoneseVocabularyData

    with pytest.raises(FileNotFoundError, match=r"nowhere/dialect_train.*CANTO_NEMO_SHARED_DATA"):
        CantoneseVocabularyData(tmp_path / "nowhere").reference_texts()
