"""The layers of docs/CONTRACTS.md, as the imports are: no package imports one above it (imports inside
functions included), and nothing but `python -m domainlm` imports `domainlm.cli`."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "domainlm"

# Top to bottom (docs/CONTRACTS.md); names on one line are one layer.
LAYERS = [
    ["__main__"],  # `python -m domainlm`
    ["cli"],
    ["demo"],
    ["hub"],
    ["pipeline"],
    ["routing"],
    ["recipes"],
    ["evaluation"],
    ["finetune"],
    ["tasks"],
    ["card", "lineage"],
    ["training"],
    ["modeling"],
    ["mining", "vocab_build"],
    ["corpus"],
    ["errors", "io", "versions", "runtime", "progress", "stats", "charts"],
]
RANK = {name: depth for depth, names in enumerate(LAYERS) for name in names}


def _area(module: str) -> str | None:
    """`domainlm.X.…` → X; None for anything outside domainlm."""
    parts = module.split(".")
    if parts[0] != "domainlm" or len(parts) < 2 or parts[1] == "__version__":  # the package's own version
        return None
    return parts[1]


def _imports(path: Path):
    """(line, imported domainlm area) of every import in the file, inside functions too."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
            if node.module == "domainlm":  # `from domainlm import X`
                for alias in node.names:
                    yield node.lineno, f"domainlm.{alias.name}"


def _upward_imports() -> list[str]:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else None
        if own is None:  # domainlm/__init__.py: the lazy public API names every layer
            continue
        for line, module in _imports(path):
            area = _area(module)
            if area is None or area == own:
                continue
            if (area == "cli" and own != "__main__") or RANK.get(area, -1) < RANK[own]:
                found.append(f"domainlm/{rel}:{line} ({own}) imports {module}")
    return found


def test_every_area_has_a_layer():
    areas = {p.relative_to(ROOT).parts[0].removesuffix(".py") for p in ROOT.rglob("*.py")} - {"__init__"}
    assert not areas - set(RANK), f"areas missing from LAYERS (and docs/CONTRACTS.md): {areas - set(RANK)}"


def test_no_package_imports_a_layer_above_it():
    assert _upward_imports() == []
