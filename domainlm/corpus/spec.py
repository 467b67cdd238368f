"""What a corpus is: `CorpusSpec` (where it is, how to read it, which of its rows to keep).

The one place that turns what a person or a recipe names (paths, globs, specs) into `CorpusSpec`s
(`corpus_specs`), and the one `where` rule every reader of rows applies (`value_matches`,
`row_matches`, `check_where_columns`): the corpus reader's formats, the fast path of mining, and
the whole-row reader of routing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domainlm.errors import CorpusError

Where = Mapping[str, "str | Sequence[str]"]


class CorpusSpec(BaseModel):
    """Where a corpus is and how to read it. Recipes use this for every corpus they name."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="File, directory, glob, a `datasets` save_to_disk directory, or hf:NAME")
    field: str = Field(
        "text", description="Column (csv/tsv/parquet) or field (jsonl/json) holding the text; ignored for .txt"
    )
    id_field: str | None = Field(None, description="Column holding a document id (used for the held-out hash split)")
    encoding: str | None = Field(None, description="Text encoding; auto-detects utf-8 / utf-8-sig / cp949 when unset")
    where: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Keep only rows whose column equals (one of) these values, e.g. {split: train}",
    )
    limit: int | None = Field(None, ge=1, description="Read at most this many documents")
    hf_split: str | None = Field(
        None,
        description="Split of a datasets dataset (hf:NAME:CONFIG:SPLIT sets it too); "
        "unset: 'train', said aloud when the dataset has other splits",
    )
    hf_config: str | None = Field(
        None, description="Configuration of a hub dataset (hf:NAME:CONFIG); unset: its default"
    )

    @model_validator(mode="after")
    def _hub_address(self):
        # hf:NAME:CONFIG:SPLIT (either part may be empty: hf:klue:ynat, hf:e9t/nsmc::test), as one string
        # a person can type anywhere a path goes; the parts land in hf_config / hf_split.
        if self.path.startswith("hf:") and self.path.count(":") > 1:
            name, config, *rest = self.path[3:].split(":")
            split = rest[0] if rest else ""
            if len(rest) > 1 or not name:
                raise ValueError(f"{self.path!r} is not hf:NAME[:CONFIG[:SPLIT]]")
            object.__setattr__(self, "path", f"hf:{name}")
            if config:
                object.__setattr__(self, "hf_config", config)
            if split:
                object.__setattr__(self, "hf_split", split)
        return self


def corpus_specs(
    corpus: CorpusSpec | str | os.PathLike | Iterable[CorpusSpec | str | os.PathLike] | None,
    *,
    field: str | None = None,
    encoding: str | None = None,
    where: Where | None = None,
    split: str | None = None,
) -> list[CorpusSpec]:
    """`corpus` (a CorpusSpec, a path or glob, or a list of them; None: none) as a list of CorpusSpecs.

    A path becomes a spec that reads `field` and `encoding` when they are given (else the defaults);
    a spec is kept as it is. `where` filters every corpus, added to each spec's own filter.
    """
    if corpus is None:
        return []
    items = [corpus] if isinstance(corpus, (CorpusSpec, str, os.PathLike)) else list(corpus)
    settings = {k: v for k, v in (("field", field), ("encoding", encoding), ("hf_split", split)) if v is not None}
    specs = [item if isinstance(item, CorpusSpec) else CorpusSpec(path=str(item), **settings) for item in items]
    if where:
        specs = [s.model_copy(update={"where": {**s.where, **where}}) for s in specs]
    return specs


# ---------------------------------------------------------------- the `where` rule


def parse_where(items: Sequence[str] | None) -> dict[str, str | list[str]]:
    """`["split=test", "rating=1,2"]` → {"split": "test", "rating": ["1", "2"]}."""
    where: dict[str, str | list[str]] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CorpusError(
                f"--where {item!r} is not COLUMN=VALUE.", "Write e.g. --where split=test (VALUE may be a,b for either)."
            )
        values = [v.strip() for v in value.split(",")]
        where[key.strip()] = values if len(values) > 1 else values[0]
    return where


def value_matches(value: object, want: str | Sequence[str]) -> bool:
    """One cell against one `where` entry: equal to the value named, or to one of a list's, compared as
    text (the number 5 matches "5"). A cell without a value (null, or past the end of a short row) never matches."""
    if value is None:
        return False
    value = str(value)
    return value in want if isinstance(want, (list, tuple)) else value == str(want)


def row_matches(row: Mapping[str, object], where: Where) -> bool:
    """Whether a row (column → value) passes every entry of `where` (see `value_matches`)."""
    return all(value_matches(row.get(key), want) for key, want in where.items())


def check_where_columns(where: Where, columns: Iterable[str], source: object) -> None:
    """A filter on a column that `source` does not have is an error, never a silently empty corpus."""
    columns = list(columns)
    missing = [k for k in where if k not in columns]
    if missing:
        raise CorpusError(
            f"'{source}' has no column {', '.join(repr(m) for m in missing)} to filter on; it has: "
            f"{', '.join(columns)}.",
            "Fix the `where` filter of the corpus.",
        )


__all__ = ["CorpusSpec", "corpus_specs", "parse_where", "value_matches", "row_matches", "check_where_columns"]
