"""The terms file: what mining writes, and what `vocab fill` and `adapt` read.

Three formats, chosen by suffix:

- `.tsv` — a header line, then one term a row. Columns (any subset, any order, `term` required):
  term kind score tokens_saved category_count reference_count specificity_z base_pieces example category
  `base_pieces` is the space-joined pieces the base tokenizer makes of the term.
- `.json` — a list of objects with the same keys (or `{"terms": [...]}`).
- anything else (`.txt`) — one term a line; blank lines are skipped.

A continuation term (one that attaches to the previous piece inside an eojeol) is written with its
`##` prefix, exactly as it will appear in `vocab.txt`; `Term` keeps `term` and `kind` consistent.
Torch-free: stdlib only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from vocab_tools.atomic import atomic_write_text
from vocab_tools.errors import VocabError

CONTINUATION_PREFIX = "##"
KINDS = ("word", "continuation")
COLUMNS = (
    "term",
    "kind",
    "score",
    "tokens_saved",
    "category_count",
    "reference_count",
    "specificity_z",
    "base_pieces",
    "example",
    "category",
)


@dataclass
class Term:
    """One vocabulary candidate and the evidence for it.

    `kind` follows the `##` prefix of `term`: a term starting with `##` is a continuation, and a term
    constructed with kind="continuation" but no prefix gets one. So `Term("##크림")` and
    `Term("크림", kind="continuation")` are the same term.
    """

    term: str
    kind: str = "word"
    score: float = 0.0
    tokens_saved: int = 0
    category_count: int = 0
    reference_count: int = 0
    specificity_z: float = 0.0
    base_pieces: list[str] = field(default_factory=list)
    example: str = ""
    category: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VocabError(f"Term {self.term!r} has kind {self.kind!r}.", f"Use one of: {', '.join(KINDS)}.")
        if self.term.startswith(CONTINUATION_PREFIX):
            self.kind = "continuation"
        elif self.kind == "continuation":
            self.term = CONTINUATION_PREFIX + self.term
        if isinstance(self.base_pieces, str):
            self.base_pieces = self.base_pieces.split()

    @property
    def surface(self) -> str:
        """The text the term stands for, without the `##` of a continuation."""
        return self.term[len(CONTINUATION_PREFIX) :] if self.kind == "continuation" else self.term

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- reading


def read_terms(path: str | os.PathLike) -> list[Term]:
    """Read a terms file (.tsv with header, .json, or one term a line) into `Term`s, in file order."""
    path = Path(path)
    if not path.is_file():
        raise VocabError(
            f"Terms file {path} does not exist.",
            "Pass the terms.tsv written by `domainlm mine-terms`, or a .txt file with one term a line.",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise VocabError(
            f"Terms file {path} is not UTF-8 ({e.reason} at byte {e.start}).",
            "Save it as UTF-8 (e.g. `iconv -f cp949 -t utf-8`).",
        ) from None
    suffix = path.suffix.lower()
    if suffix == ".tsv":
        terms = _read_tsv(text, path)
    elif suffix == ".json":
        terms = _read_json(text, path)
    else:
        terms = _read_plain(text)
    if not terms:
        # An empty list would fill nothing and train on nothing new, silently: say so instead.
        what = "it is empty" if not text.strip() else "it has no term rows"
        raise VocabError(
            f"There are no terms in {path}: {what}.",
            "Pass the terms.tsv written by `domainlm mine-terms` (check that mining found terms), "
            "or a .txt file with one term a line.",
        )
    return terms


def _read_plain(text: str) -> list[Term]:
    # Surrounding spaces are an accident of editing; inner whitespace is kept so fill can reject it.
    return [Term(line.strip()) for line in text.splitlines() if line.strip()]


def _read_tsv(text: str, path: Path) -> list[Term]:
    lines = text.splitlines()
    if not lines:
        return []
    header = [c.strip() for c in lines[0].split("\t")]
    _check_columns(header, path, what="column")
    terms = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) > len(header):
            raise VocabError(
                f"{path}:{lineno} has {len(cells)} tab-separated cells but the header names {len(header)}.",
                "Remove tabs inside values (examples especially) or add the missing header columns.",
            )
        row = dict(zip(header, cells))
        terms.append(_term_from_row(row, f"{path}:{lineno}"))
    return terms


def _read_json(text: str, path: Path) -> list[Term]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise VocabError(
            f"{path} is not valid JSON: {e.msg} at line {e.lineno}.",
            "Fix the file, or pass the terms.tsv written next to it.",
        ) from None
    if isinstance(data, dict) and "terms" in data:
        data = data["terms"]
    if not isinstance(data, list):
        raise VocabError(
            f"{path} holds a JSON {type(data).__name__}, not a list of terms.",
            'Write a list of objects like [{"term": "수분크림", "kind": "word"}].',
        )
    terms = []
    for i, item in enumerate(data):
        where = f"{path} item {i}"
        if isinstance(item, str):
            item = {"term": item}
        if not isinstance(item, dict):
            raise VocabError(
                f"{where} is a {type(item).__name__}, not an object.", 'Each item must look like {"term": "수분크림"}.'
            )
        _check_columns(list(item), path, what="key")
        terms.append(_term_from_row(item, where))
    return terms


def _check_columns(names: list[str], path: Path, what: str) -> None:
    # A missing `term` is checked first: it usually means a TSV without a header line.
    if "term" not in names:
        raise VocabError(
            f"{path} has no `term` {what} (found: {', '.join(map(repr, names))}).",
            f"The first line of a .tsv must be a header naming its columns, e.g. `term\\tkind\\tscore`; "
            f"allowed: {' '.join(COLUMNS)}. A plain list of terms should be a .txt file.",
        )
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise VocabError(
            f"{path} has unknown {what}s: {', '.join(map(repr, unknown))}.",
            f"Allowed {what}s: {' '.join(COLUMNS)} (only `term` is required).",
        )


_INTS = ("tokens_saved", "category_count", "reference_count")
_FLOATS = ("score", "specificity_z")


def _term_from_row(row: dict, where: str) -> Term:
    values: dict = {}
    for key, raw in row.items():
        if isinstance(raw, str):
            raw = raw if key == "term" else raw.strip()
            if raw == "" and key != "term":
                continue  # an empty cell means "not given": keep the default
        try:
            if key in _INTS:
                values[key] = int(float(raw))
            elif key in _FLOATS:
                values[key] = float(raw)
            elif key == "base_pieces":
                values[key] = raw.split() if isinstance(raw, str) else [str(p) for p in raw]
            elif key == "category":
                values[key] = None if raw is None else str(raw)
            else:
                values[key] = raw if raw is None else str(raw)
        except (TypeError, ValueError):
            raise VocabError(
                f"{where}: {key} = {raw!r} is not a number.", f"Write a plain number in the {key} column."
            ) from None
    if not values.get("term"):
        raise VocabError(f"{where}: the term is empty.", "Delete the row or write the term in the `term` column.")
    return Term(**values)


# ---------------------------------------------------------------- writing


def write_terms(terms: Iterable[Term], tsv_path: str | os.PathLike, json_path: str | os.PathLike | None = None) -> None:
    """Write terms as a TSV with header (and optionally JSON), each atomically."""
    terms = list(terms)
    lines = ["\t".join(COLUMNS)]
    for t in terms:
        lines.append("\t".join(_tsv_cell(getattr(t, name)) for name in COLUMNS))
    atomic_write_text(Path(tsv_path), "\n".join(lines) + "\n")
    if json_path is not None:
        data = [t.to_dict() for t in terms]
        atomic_write_text(Path(json_path), json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def _tsv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(value)
    elif isinstance(value, float):
        value = f"{value:.6g}"
    # A tab or newline inside a value would shift every later column; examples are free text.
    return (
        " ".join(str(value).split())
        if isinstance(value, str) and ("\t" in value or "\n" in value or "\r" in value)
        else str(value)
    )


__all__ = ["Term", "read_terms", "write_terms", "COLUMNS", "KINDS", "CONTINUATION_PREFIX"]
assert tuple(f.name for f in fields(Term)) == COLUMNS  # the file columns are exactly the dataclass fields
