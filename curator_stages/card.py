"""The dataset card every curate run writes: OUTPUT/README.md in the Hugging Face dataset card format.

Its YAML front matter (language from the pack, the most restrictive licence of the inputs, size category, and
`configs` naming curated/ so `datasets.load_dataset(OUTPUT)` loads the curated split) comes before the facts a
publisher needs: documents and characters per source, dialect shares per source, what was removed and why (from
stats.json), decontamination sets, and each source's licence. A licence comes from the run's `licence=` option (one
per input), from the pack (its packaged corpora, `corpus_licences`), or from a LICENSE / README beside the data;
anything else is written as unknown, never guessed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

# Hugging Face licence ids, least to most restrictive for redistribution and use.
RESTRICTIVENESS = ["cc0-1.0", "mit", "apache-2.0", "cc-by-4.0", "cc-by-3.0", "mpl-2.0", "cc-by-sa-4.0",
                   "cc-by-sa-3.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0"]
# The first lines of the licence texts that are shipped as LICENSE files.
_LICENCE_TEXTS = [
    (r"Attribution-NonCommercial-NoDerivatives 4\.0|CC BY-NC-ND 4\.0", "cc-by-nc-nd-4.0"),
    (r"Attribution-NonCommercial-ShareAlike 4\.0|CC BY-NC-SA 4\.0", "cc-by-nc-sa-4.0"),
    (r"Attribution-NonCommercial 4\.0|CC BY-NC 4\.0", "cc-by-nc-4.0"),
    (r"Attribution-ShareAlike 4\.0|CC BY-SA 4\.0", "cc-by-sa-4.0"),
    (r"Attribution-ShareAlike 3\.0|CC BY-SA 3\.0", "cc-by-sa-3.0"),
    (r"Attribution 4\.0 International|CC BY 4\.0", "cc-by-4.0"),
    (r"CC0 1\.0", "cc0-1.0"),
    (r"Mozilla Public License,? Version 2\.0", "mpl-2.0"),
    (r"Apache License,? Version 2\.0", "apache-2.0"),
    (r"^MIT License", "mit"),
]
LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING", "README.md")


def non_commercial(licence: str) -> bool:
    return "-nc" in licence


def licence_from_files(entry: str) -> tuple[str, str]:
    """(licence, where it was read) from a LICENSE / README in a data folder or beside a data file."""
    path = Path(entry)
    folders = [path] if path.is_dir() else [path.parent]
    for folder in folders:
        for name in LICENCE_FILES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            text = candidate.read_text(encoding="utf-8", errors="replace")[:20_000]
            front = re.match(r"---\n(.*?)\n---", text, re.S)
            if front:
                declared = (yaml.safe_load(front.group(1)) or {}).get("license")
                if isinstance(declared, str):
                    return declared.lower(), str(candidate)
            for pattern, licence in _LICENCE_TEXTS:
                if re.search(pattern, text, re.M | re.I):
                    return licence, str(candidate)
    return "unknown", "no LICENSE or README with a recognisable licence beside the data"


def source_licences(inputs: list[str], given: list[str], pack) -> list[dict]:
    """Each input's licence and where it came from, in input order."""
    known = getattr(pack, "corpus_licences", {}) or {}
    found = []
    for i, entry in enumerate(inputs):
        option = given[i] if i < len(given) else None
        if option:
            found.append({"input": entry, "licence": str(option).lower(), "from": "licence= option"})
        elif entry in known:
            licence, where = known[entry]
            found.append({"input": entry, "licence": licence, "from": where})
        elif ":" in entry and not Path(entry).exists():
            found.append({"input": entry, "licence": "unknown", "from": "the pack names no licence for it"})
        else:
            licence, where = licence_from_files(entry)
            found.append({"input": entry, "licence": licence, "from": where})
    return found


def overall_licence(licences: list[str]) -> str:
    """The card's `license`: `unknown` if any input's is, the most restrictive when all are known ids, else other."""
    if not licences or "unknown" in licences:
        return "unknown"
    if all(x in RESTRICTIVENESS for x in licences):
        return max(licences, key=RESTRICTIVENESS.index)
    return "other"


def size_category(n: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    return next((label for bound, label in bounds if n < bound), "n>1T" if n > 10**12 else "1B<n<10B")


def _per_input(inputs: list[str], curated_sources: dict) -> dict:
    """The curated counts per source (stats.json's `curated_sources`), summed per input of the run."""
    from canto_nemo.curator_stages.readers import expand_inputs

    owner = {source: entry for entry in inputs for _, source in expand_inputs([entry])}
    counts = defaultdict(lambda: {"documents": 0, "characters": 0, "dialect": Counter()})
    for source, c in curated_sources.items():
        entry = owner.get(source, source)
        counts[entry]["documents"] += c["documents"]
        counts[entry]["characters"] += c["characters"]
        counts[entry]["dialect"].update(c["dialect_labels"])
    return counts


def write_card(output: str, stats: dict, *, inputs: list[str], pack, licences: list[str], decontaminate: list[str],
               output_format: str = "jsonl") -> Path:
    """Writes OUTPUT/README.md (after curated/ and stats.json are in place, before _SUCCESS)."""
    out = Path(output)
    sources = source_licences(inputs, licences, pack)
    per_input = _per_input(inputs, stats["curated_sources"])
    licence = overall_licence([s["licence"] for s in sources])
    language = getattr(pack, "language_code", None) or "unknown"
    front = {"language": [language], "license": licence, "size_categories": [size_category(stats["documents_out"])],
             "task_categories": ["text-generation"], "pretty_name": f"{Path(output).resolve().name} (canto-nemo)",
             "configs": [{"config_name": "default",
                          "data_files": [{"split": "train", "path": f"curated/*.{output_format}"}]}]}
    if stats["curated_features"]:
        front["dataset_info"] = {"features": stats["curated_features"]}
    if licence == "other":
        front["license_name"] = "several"
        front["license_details"] = "; ".join(f"{s['input']}: {s['licence']}" for s in sources)
    if any(non_commercial(s["licence"]) for s in sources):
        front["tags"] = ["non-commercial"]
    lines = ["---", yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip(), "---", "",
             f"# {front['pretty_name']}", "",
             f"Curated by `canto-nemo curate` with the `{getattr(pack, 'name', pack)}` language pack: "
             f"{stats['documents_in']:,} documents read, {stats['documents_out']:,} kept, "
             f"{stats['documents_rejected']:,} removed (stats.json; reconciled: {stats['reconciled']}). Load with "
             f"`datasets.load_dataset(\"{output}\")` (the `train` split is curated/).", ""]
    if licence == "unknown":
        lines += ["**Licence: unknown for at least one source** (below): do not publish before it is known.", ""]
    if front.get("tags"):
        lines += ["**Non-commercial**: at least one source's licence forbids commercial use.", ""]
    lines += ["## Sources", "", "Tokens are not counted here (curation has no tokenizer): characters stand in; "
              "`canto-nemo megatron-data` counts tokens for a given tokenizer.", "",
              "| source | licence | licence from | documents | characters | dialect shares |",
              "|---|---|---|---:|---:|---|"]
    for s in sources:
        c = per_input.get(s["input"], {"documents": 0, "characters": 0, "dialect": Counter()})
        total = sum(c["dialect"].values())
        shares = ", ".join(f"{label} {n / total:.1%}" for label, n in c["dialect"].most_common()) or "-"
        lines.append(f"| `{s['input']}` | {s['licence']} | {s['from']} | {c['documents']:,} | {c['characters']:,} | "
                     f"{shares} |")
    lines += ["", "## Removed, and why", "", "| stage | reason | documents |", "|---|---|---:|"]
    for stage in stats["stages"]:
        for reason, n in stage["reasons"].items():
            lines.append(f"| {stage['stage']} | {reason} | {n:,} |")
    lines += ["", "Every removed document is in rejects/ with its reason and detail.", "", "## Decontamination", ""]
    lines.append("Against: " + ", ".join(f"`{d}`" for d in decontaminate) if decontaminate else
                 "None: this run was not decontaminated against any evaluation set.")
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
