"""The import graph of docs/architecture.md holds: every ``thesis_lib`` module imports only from
its own package and the packages below it, at the top of the file or inside a function alike
(a function-local import must not hide an import upwards or a circle)."""

import ast
from pathlib import Path

import pytest

import thesis_lib

PACKAGE = Path(thesis_lib.__file__).resolve().parent

# Lowest first, as docs/architecture.md draws it. Packages on one level do not import each other,
# except on the ground floor (``files`` writes with ``paths`` and raises ``errors``).
LEVELS = [
    {"errors", "paths", "files", "choices", "quiet_tensorflow"},
    {"layers"},
    {"models"},
    {"data"},
    {"config"},
    {"analysis"},
    {"training"},
    {"figures", "experiments"},
    {"release"},
    {"cli"},
    {"__main__"},
]
LEVEL = {name: level for level, names in enumerate(LEVELS) for name in names}


def part_of(module: str) -> str | None:
    """``thesis_lib.training.run`` -> ``training``; None outside the library or for its root."""
    parts = module.split(".")
    return parts[1] if parts[0] == "thesis_lib" and len(parts) > 1 else None


def library_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``thesis_lib`` module in ``path``, anywhere in it."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            if node.module == "thesis_lib":  # from thesis_lib import paths (not __version__)
                found += [(node.lineno, f"thesis_lib.{alias.name}") for alias in node.names
                          if (PACKAGE / alias.name).is_dir()
                          or (PACKAGE / f"{alias.name}.py").is_file()]
    return [(line, module) for line, module in found if part_of(module)]


def below(imported: str, importer: str) -> bool:
    level = LEVEL[importer]
    return LEVEL[imported] < level or (LEVEL[imported] == level == 0)


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"
                  or path.parent != PACKAGE)


def test_every_part_of_the_library_has_a_level():
    parts = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in modules()}
    assert parts <= set(LEVEL), f"not in docs/architecture.md's graph: {parts - set(LEVEL)}"


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_go_down_or_stay_in_the_package(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upwards = [f"line {line}: {module}" for line, module in library_imports(path)
               if part_of(module) != own and not below(part_of(module), own)]
    assert not upwards, f"{own} is below what it imports: {upwards}"


def test_a_planted_import_upwards_is_found(tmp_path):
    # The check itself: a data module that imports from training, inside a function.
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from thesis_lib.training import run_training\n")
    assert library_imports(planted) == [(2, "thesis_lib.training")]
    assert not below("training", "data") and not below("figures", "experiments")
    assert below("data", "training") and below("paths", "files")
