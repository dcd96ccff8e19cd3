"""The README's map of the tree is true: every folder is listed, and imports keep to it.

Each row of the map names folders (``hub/candles/``) or top-level modules (``node.py``)
and what their modules may import. A module may always import its own folder; any other
``marketcast`` import must land in a folder (its modules directly) or on a module the row
allows. Tests mirror the source folders.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "marketcast"
MAP_HEADING = "## Map of the tree"
# Test folders with no source folder of their own.
TEST_ONLY = frozenset({"support", "e2e", "browser", "soak"})


@dataclass(frozen=True, slots=True)
class Row:
    paths: tuple[str, ...]
    may_import: frozenset[str]


def map_rows() -> list[Row]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(MAP_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows.append(
            Row(
                tuple(re.findall(r"`([^`]+)`", cells[0])),
                frozenset(re.findall(r"`([^`]+)`", cells[2])),
            )
        )
    return rows


def source_folders() -> set[str]:
    return {
        path.relative_to(PACKAGE).as_posix() + "/"
        for path in PACKAGE.rglob("*")
        # The built web app (gitignored, made by ``make ui``) is not source.
        if path.is_dir() and "__pycache__" not in path.parts and "static" not in path.parts
    }


def top_modules() -> set[str]:
    return {path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}


def place(module: str) -> tuple[str, str]:
    """``(folder, file)`` of a dotted ``marketcast`` module, relative to the package."""
    parts = module.split(".")[1:]
    target = PACKAGE.joinpath(*parts)
    if target.is_dir():
        folder = "/".join(parts) + "/"
        return folder, folder + "__init__.py"
    folder = "/".join(parts[:-1]) + "/" if len(parts) > 1 else ""
    return folder, folder + parts[-1] + ".py"


def imports_of(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("marketcast"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "marketcast":  # from marketcast import runtime
                yield from (f"marketcast.{alias.name}" for alias in node.names)
            elif node.module.startswith("marketcast."):
                yield node.module


def test_every_folder_and_top_module_is_on_the_map_and_nothing_else() -> None:
    listed = {path for row in map_rows() for path in row.paths}
    assert {p for p in listed if p.endswith("/")} == source_folders()
    assert {p for p in listed if not p.endswith("/")} == top_modules()


def allows(row: Row, own: str, module: str) -> bool:
    """Whether a module of ``own`` (a folder of ``row``, or ``""`` for a top module) may
    import ``module``."""
    folder, target = place(module)
    if own and folder == own:
        return True
    return target in row.paths or target in row.may_import or folder in row.may_import


@pytest.mark.parametrize("row", map_rows(), ids=lambda row: ",".join(row.paths))
def test_imports_keep_to_the_map(row: Row) -> None:
    unknown = {entry for entry in row.may_import - {"—"} if not (PACKAGE / entry).exists()}
    assert not unknown, f"the map names paths that do not exist: {sorted(unknown)}"
    violations = []
    for path in row.paths:
        own = path if path.endswith("/") else ""
        files = sorted((PACKAGE / own).glob("*.py")) if own else [PACKAGE / path]
        violations += [
            f"{file.relative_to(PACKAGE)} imports {module}"
            for file in files
            for module in imports_of(file)
            if not allows(row, own, module)
        ]
    assert not violations, "\n".join(violations)


def test_tests_mirror_the_source_folders() -> None:
    tests = ROOT / "tests"
    folders = {
        path.relative_to(tests).as_posix() + "/"
        for path in tests.rglob("test_*.py")
        if path.parent != tests
        for path in [path.parent]
    }
    stray = {f for f in folders if f.split("/")[0] not in TEST_ONLY and f not in source_folders()}
    assert not stray, f"test folders with no source folder: {sorted(stray)}"


@pytest.mark.parametrize("room", ["api", "hub"])
def test_a_room_keeps_its_concepts_in_folders(room: str) -> None:
    """``api/`` and ``hub/`` hold sub-packages; few modules stand loose beside them."""
    loose = sorted(p.name for p in (PACKAGE / room).glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 5, f"{room}/ has {len(loose)} top-level modules: {loose}"


MODULE_LINES_MAX = 340
"""About 300 lines: the size past which a module is split by concept, with some slack."""


def test_no_module_outgrows_a_single_concept() -> None:
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    large = {name: lines for name, lines in sizes.items() if lines > MODULE_LINES_MAX}
    assert not large, f"modules over {MODULE_LINES_MAX} lines: {large}"
