"""The one output-folder policy of every command: a new or empty folder is written into; a folder with anything in
it is refused unless `overwrite=true`, which empties it first (as Spark's overwrite mode does). Checked before any
work starts, with a write probe, so a read-only or full location fails at once, naming the path."""

from __future__ import annotations

import shutil
from pathlib import Path


def prepare_output_dir(output: str | Path, overwrite: bool = False) -> Path:
    out = Path(output)
    if out.exists() and not out.is_dir():
        msg = f"output {out} exists and is not a folder"
        raise FileExistsError(msg)
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            msg = f"output folder {out} is not empty: choose another or pass overwrite=true"
            raise FileExistsError(msg)
        for child in out.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    check_writable(out)
    return out


def prepare_output_files(paths: list[Path], overwrite: bool = False) -> None:
    """For outputs that are files beside others (e.g. Megatron's PREFIX_*): refused if any exists, unless overwrite."""
    existing = [p for p in paths if p.exists()]
    if existing and not overwrite:
        msg = (f"{existing[0]} already exists ({len(existing)} of the output files): choose another or pass "
               "overwrite=true")
        raise FileExistsError(msg)
    for p in existing:
        p.unlink()
    if paths:
        check_writable(paths[0].parent)


def check_writable(folder: Path) -> None:
    """Creates the folder if needed and proves a file can be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        msg = f"cannot write into the output folder {folder}: {err.strerror or err}"
        raise PermissionError(msg) from err
