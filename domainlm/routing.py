"""Route a mixed commerce review stream to per-category corpora by the recipes' keyword lists.

The rule (documented in recipes/README.md and `domainlm split-categories --help`): for each review,
count how often each category's keywords occur in it (substring counts on the lower-cased text).
The category with the most hits wins; a tie between the top categories goes to the `ambiguous`
bucket; a review with no hit goes to `unassigned`. Substring counting is deliberately simple: it
needs no morphological analyser and is easy to audit from the keyword lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from domainlm.corpus.rows import iter_rows
from domainlm.corpus.spec import CorpusSpec, corpus_specs
from domainlm.errors import ConfigError, CorpusError
from domainlm.io import atomic_directory, check_output_dir, follow_umask, write_json
from domainlm.progress import progress_bar

AMBIGUOUS = "ambiguous"
UNASSIGNED = "unassigned"


class Router:
    """Keyword router: `route(text)` → (bucket name, hits per category)."""

    def __init__(self, keywords: dict[str, Sequence[str]]):
        if not keywords:
            raise ConfigError(
                "No category has routing keywords.",
                "Add data.routing.keywords to the recipes, or name recipes that have them with --category.",
            )
        clash = {AMBIGUOUS, UNASSIGNED} & set(keywords)
        if clash:
            raise ConfigError(f"'{', '.join(sorted(clash))}' is a reserved bucket name, not a category name.")
        self.keywords = {name: [k.lower() for k in kws] for name, kws in keywords.items()}

    def hits(self, text: str) -> dict[str, int]:
        low = text.lower()
        return {name: sum(low.count(k) for k in kws) for name, kws in self.keywords.items()}

    def route(self, text: str) -> tuple[str, dict[str, int]]:
        hits = self.hits(text)
        best = max(hits.values())
        if best == 0:
            return UNASSIGNED, hits
        top = [name for name, h in hits.items() if h == best]
        return (top[0] if len(top) == 1 else AMBIGUOUS), hits


def routing_recipes(categories: Iterable[str] | None = None) -> list:
    """The recipes that route: those named (category, alias or file), else every recipe with
    `data.routing.apply: true` (the categories of the mixed shopping stream)."""
    from domainlm.recipes import list_recipes, load_recipe

    if categories:
        recipes = [load_recipe(c) for c in categories]
        missing = [r.category for r in recipes if not r.data.routing.keywords]
        if missing:
            raise ConfigError(
                f"The recipe(s) {', '.join(missing)} have no data.routing.keywords to route by.",
                "Add keywords to those recipes, or leave them out of --category.",
            )
        return recipes
    return [
        r for r in (load_recipe(e.path) for e in list_recipes()) if r.data.routing.apply and r.data.routing.keywords
    ]


def router_from_recipes(recipes: Sequence) -> Router:
    return Router({r.name: r.data.routing.keywords for r in recipes})


# ---------------------------------------------------------------- splitting


@dataclass
class RoutingReport:
    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    rule: str = "most keyword hits wins; a tie between the top categories → ambiguous; no hit → unassigned"
    categories: dict[str, str] = field(default_factory=dict)  # recipe name → category (Korean)

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "counts": self.counts,
            "outputs": self.outputs,
            "rule": self.rule,
            "categories": self.categories,
        }


SPLIT_COMMAND = "split-categories"  # named in the marker of the folders it writes


def split_categories(
    inputs: Sequence[str | os.PathLike | CorpusSpec],
    out_dir: str | os.PathLike,
    *,
    categories: Iterable[str] | None = None,
    field: str = "text",
    encoding: str | None = None,
    force: bool = False,
) -> RoutingReport:
    """Route every review of `inputs` into `out_dir/<recipe name>.jsonl`, plus `ambiguous.jsonl`,
    `unassigned.jsonl` and `routing.json` (counts). Rows keep all their columns.

    `out_dir` is new, empty or an earlier output of `split-categories` (anything else only with
    `force`); the whole set of files replaces it in one swap once every review is routed.
    """
    check_output_dir(out_dir, SPLIT_COMMAND, force)
    recipes = routing_recipes(categories)
    router = router_from_recipes(recipes)
    specs = corpus_specs(inputs, field=field, encoding=encoding)
    if not specs:
        raise CorpusError(
            "No input was given.", "Pass one or more review files: domainlm split-categories FILE… -o DIR"
        )
    out = Path(out_dir)
    buckets = [r.name for r in recipes] + [AMBIGUOUS, UNASSIGNED]
    report = RoutingReport(counts={b: 0 for b in buckets}, categories={r.name: r.category for r in recipes})
    from contextlib import ExitStack

    with atomic_directory(out, command=SPLIT_COMMAND, force=force) as tmp:
        with ExitStack() as stack, progress_bar("routing reviews", unit="reviews") as update:
            handles = {b: stack.enter_context(open(tmp / f"{b}.jsonl", "w", encoding="utf-8")) for b in buckets}
            for spec in specs:
                for row in iter_rows(spec):
                    text = row.get(spec.field) or ""
                    bucket, _ = router.route(text)
                    if spec.field != "text":
                        row = {**row, "text": text}
                    handles[bucket].write(json.dumps(row, ensure_ascii=False) + "\n")
                    report.counts[bucket] += 1
                    report.total += 1
                    if report.total % 1000 == 0:
                        update(completed=report.total)
        if not report.total:  # nothing to route: an error, as every other command that reads a corpus says
            from domainlm.corpus.reader import CorpusReader
            from domainlm.corpus.stats import empty_corpus_error

            raise empty_corpus_error(CorpusReader(specs, warn=False))
        for b in buckets:
            follow_umask(tmp / f"{b}.jsonl", directory=False)
        report.outputs = {b: str(out / f"{b}.jsonl") for b in buckets}
        write_json(tmp / "routing.json", report.to_dict())
    return report
