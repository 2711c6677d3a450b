"""The layout's import rules (README, "Layout") hold against the code: each room imports only the rooms listed for
it, every import counted (those inside functions too), so the rooms form no cycle and nothing after curation reaches
into a language pack except through the pack interface."""

import ast
from pathlib import Path

import pytest

import canto_nemo

ROOT = Path(canto_nemo.__file__).resolve().parents[1]
# room -> the rooms it may import (besides itself); `canto_nemo` is the CLI and the demo, which import every room.
ALLOWED = {
    "common": set(),
    "curator_stages": {"common"},
    "cantonese": {"curator_stages.language_pack", "curator_stages.charclass"},
    "recipes": {"common", "curator_stages", "vocabulary"},
    "vocabulary": {"common", "curator_stages"},
    "evaluation": {"common", "curator_stages"},
    "serving": {"curator_stages"},
    "alignment": {"common", "curator_stages", "vocabulary"},
}
# The pack's own NeMo Curator stage and its model builder use the stages they extend and call.
PACK_EXTRAS = {"stages.py": {"curator_stages.normalize"}, "train_dialect.py": {"curator_stages.decontaminate"}}
ROOMS = {*ALLOWED, "canto_nemo", "conf"}


def project_imports(path: Path) -> set[str]:
    """The canto_nemo modules a file imports, without the `canto_nemo.` prefix."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
        found |= {n.removeprefix("canto_nemo.") for n in names if n.startswith("canto_nemo.")}
    return found


def allowed(room: str, file: str, module: str) -> bool:
    target = module.split(".")[0]
    if target == room:
        return True
    rules = ALLOWED[room] | PACK_EXTRAS.get(file, set()) if room == "cantonese" else ALLOWED[room]
    return any(module == r or module.startswith(r + ".") or (target == r) for r in rules)


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_each_room_imports_only_what_the_readme_allows(room):
    files = sorted((ROOT / room).rglob("*.py"))
    assert files, f"no room {room}/ at {ROOT}"
    wrong = [f"{path.relative_to(ROOT)} imports canto_nemo.{module}"
             for path in files for module in sorted(project_imports(path))
             if module.split(".")[0] in ROOMS and not allowed(room, path.name, module)]
    assert not wrong, "\n".join(wrong)


def test_no_room_imports_the_command_line():
    wrong = [str(path.relative_to(ROOT)) for room in ALLOWED for path in (ROOT / room).rglob("*.py")
             if any(m.split(".")[0] in ("cli", "demo") for m in project_imports(path))]
    assert not wrong


def test_the_rules_catch_a_violation(tmp_path):
    # The check can fail: a serving module that reached into the pack directly would be refused.
    bad = tmp_path / "server.py"
    bad.write_text("def f():\n    from canto_nemo.cantonese import detect_dialect\n", encoding="utf-8")
    assert project_imports(bad) == {"cantonese"}
    assert not allowed("serving", "server.py", "cantonese")
    assert not allowed("cantonese", "dialect.py", "curator_stages.workflow")
    assert allowed("cantonese", "train_dialect.py", "curator_stages.decontaminate")


def test_no_function_in_the_package_is_over_120_lines():
    long = [f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for room in [*ALLOWED, "canto_nemo"] for path in (ROOT / room).rglob("*.py")
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 120]
    assert not long, "\n".join(long)
