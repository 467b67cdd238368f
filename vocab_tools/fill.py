"""Write terms into free `[unusedN]` slots, and take them out again.

Filling rewrites the token at a slot id in vocab.txt AND tokenizer.json (same id in both), so the
embedding matrix keeps its shape and every other id stays put. A filled term becomes a plain
WordPiece vocab entry: if its slot was registered as an added/special token (kykim-style configs do
this), that registration is removed for the filled slot only and kept in the manifest, so `unfill`
restores the files exactly. Slots not filled stay as they were.

Categories share the pool: filling category B after A takes the slots A left free; unfilling A frees
only A's. Filling the same terms again changes nothing (idempotent). Output is written atomically.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import Tokenizer

from vocab_tools import checks
from vocab_tools.atomic import check_output_dir
from vocab_tools.errors import VocabError
from vocab_tools.info import NFD_FIX, NO_SLOTS_HINT
from vocab_tools.loading import HANGUL_PROBE, LoadedTokenizer, load_tokenizer
from vocab_tools.manifest import MANIFEST_NAME, SlotEntry, has_manifest, manifest_json, with_manifest_copy
from vocab_tools.reach import Reach, check_reachability
from vocab_tools.slots import slot_ids
from vocab_tools.terms import Term
from vocab_tools.writing import dumps, special_tokens_map, tokenizer_config, tokenizer_json_text, write_tokenizer_dir

_SPECIAL_LISTS = ("additional_special_tokens", "extra_special_tokens")
# The command names in the marker of the folders they write (see vocab_tools.atomic).
FILL_COMMAND = "vocab fill"
UNFILL_COMMAND = "vocab unfill"


def is_same_folder(out_dir: str | os.PathLike, source_dir: str | os.PathLike) -> bool:
    """Whether `out_dir` is the folder the tokenizer was read from (an in-place edit)."""
    try:
        return Path(out_dir).resolve() == Path(source_dir).resolve()
    except OSError:
        return False


@dataclass
class FillResult:
    out_dir: Path
    filled: list[SlotEntry]  # newly filled by this call
    rejected: list[tuple[str, str]]  # (term, reason)
    unreachable: list[str]  # filled terms WordPiece never emitted in their contexts
    already_filled: list[SlotEntry] = field(default_factory=list)
    reach: list[Reach] = field(default_factory=list)
    free_before: int = 0
    free_after: int = 0
    total_slots: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "filled": [e.to_dict() for e in self.filled],
            "already_filled": [e.term for e in self.already_filled],
            "rejected": [{"term": t, "reason": r} for t, r in self.rejected],
            "unreachable": self.unreachable,
            "reach": [r.to_dict() for r in self.reach],
            "free_before": self.free_before,
            "free_after": self.free_after,
            "total_slots": self.total_slots,
            "warnings": self.warnings,
        }


@dataclass
class UnfillResult:
    out_dir: Path
    restored: list[SlotEntry]
    remaining: list[SlotEntry]

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "restored": [e.to_dict() for e in self.restored],
            "remaining": len(self.remaining),
        }


# ---------------------------------------------------------------- shared state of one edit


class _Edit:
    """The tokenizer files of one fill/unfill, edited in memory and then written together."""

    def __init__(self, tok: LoadedTokenizer):
        self.tok = tok
        self.vocab = list(tok.vocab)
        self.data = copy.deepcopy(tok.tokenizer_json_data())
        self.settings = copy.copy(tok.settings)
        self.config = copy.deepcopy(tok.config)
        self.stm = copy.deepcopy(tok.special_tokens_map or {})

    def checker(self) -> Tokenizer:
        return Tokenizer.from_str(json.dumps(self.data, ensure_ascii=False))

    def fix_normalizer(self) -> None:
        norm = self.data.get("normalizer") or {}
        if norm.get("type") != "BertNormalizer":
            raise VocabError(
                f"--fix-normalizer can only change a BertNormalizer; this tokenizer has {norm.get('type', 'none')}.",
                "Edit tokenizer.json by hand so Hangul is not NFD-decomposed.",
            )
        norm["strip_accents"] = False
        self.settings.strip_accents = False
        self.settings.assumed = False

    def _lists(self):
        for fname, d in (("tokenizer_config.json", self.config), ("special_tokens_map.json", self.stm)):
            for key in _SPECIAL_LISTS:
                if isinstance(d.get(key), list):
                    yield f"{fname}:{key}", d[key]

    def take_slot(self, slot: int, term: str) -> dict:
        """Put `term` at `slot`; return what the slot's old token had elsewhere (for unfill)."""
        old = self.vocab[slot]
        restore: dict = {}
        kept = []
        for t in self.data.get("added_tokens", []):
            if int(t["id"]) == slot:
                restore["added_token"] = t
            else:
                kept.append(t)
        self.data["added_tokens"] = kept
        decoder = self.config.get("added_tokens_decoder")
        if isinstance(decoder, dict) and str(slot) in decoder:
            restore["added_tokens_decoder"] = decoder.pop(str(slot))
        for name, items in self._lists():
            for item in list(items):
                if _content(item) == old:
                    items.remove(item)
                    restore.setdefault("special_token_lists", {})[name] = item
        self.vocab[slot] = term
        return restore

    def give_back(self, entry: SlotEntry) -> None:
        """Undo `take_slot` for one manifest entry."""
        self.vocab[entry.slot_id] = entry.old_token
        r = entry.restore or {}
        if "added_token" in r:
            self.data.setdefault("added_tokens", []).append(r["added_token"])
            self.data["added_tokens"].sort(key=lambda t: int(t["id"]))
        if "added_tokens_decoder" in r:
            decoder = self.config.setdefault("added_tokens_decoder", {})
            decoder[str(entry.slot_id)] = r["added_tokens_decoder"]
            self.config["added_tokens_decoder"] = dict(sorted(decoder.items(), key=lambda kv: int(kv[0])))
        ids = {t: i for i, t in enumerate(self.vocab)}
        for name, item in r.get("special_token_lists", {}).items():
            fname, key = name.split(":", 1)
            target = self.config if fname == "tokenizer_config.json" else self.stm
            items = target.setdefault(key, [])
            items.append(item)
            items.sort(key=lambda x: ids.get(_content(x) or "", len(ids)))

    def files(self, manifest: Sequence[SlotEntry]) -> dict[str, str]:
        model = self.data["model"]
        model["vocab"] = {t: i for i, t in enumerate(self.vocab)}
        vocab_txt = self.tok.vocab_txt.render(self.vocab) if self.tok.vocab_txt else "\n".join(self.vocab) + "\n"
        specials = self.tok.special_tokens
        files = {
            "vocab.txt": vocab_txt,
            "tokenizer.json": tokenizer_json_text(self.data),
            # The manifest's copy there survives transformers' save_pretrained, which drops slots.json.
            "tokenizer_config.json": dumps(
                with_manifest_copy(tokenizer_config(self.settings, specials, base=self.config), manifest)
            ),
            "special_tokens_map.json": dumps(special_tokens_map(specials, base=self.stm)),
        }
        if manifest:
            files[MANIFEST_NAME] = manifest_json(manifest)
        return files


def _content(item) -> str | None:
    return item.get("content") if isinstance(item, dict) else item


def _check_consistent(tok: LoadedTokenizer) -> list[SlotEntry]:
    if tok.mismatch:
        raise VocabError(
            f"vocab.txt and tokenizer.json of {tok.source} disagree: {tok.mismatch}.",
            "Delete the stale one (usually tokenizer.json) so both files can be written from one vocab.",
        )
    if len(set(tok.vocab)) != len(tok.vocab):
        dupes = sorted(t for t, n in Counter(tok.vocab).items() if n > 1)[:3]
        raise VocabError(
            f"The vocab of {tok.source} lists some tokens twice{f' (e.g. {dupes})' if dupes else ''}; "
            "tokenizer.json cannot hold both ids.",
            "Remove the duplicate lines from vocab.txt.",
        )
    for e in tok.manifest:
        if not (0 <= e.slot_id < len(tok.vocab)) or tok.vocab[e.slot_id] != e.term:
            raise VocabError(
                f"slots.json of {tok.source} says slot {e.slot_id} holds {e.term!r}, but the vocab has "
                f"{tok.vocab[e.slot_id] if 0 <= e.slot_id < len(tok.vocab) else 'no such id'!r} there.",
                "The vocab was edited after filling. Refill from the base tokenizer.",
            )
    return list(tok.manifest)


# ---------------------------------------------------------------- fill

# Reasons that say a line is text, not a term: several words, or longer than any word.
_NOT_A_TERM = (checks.WHITESPACE, checks.TOO_LONG)


def _check_mostly_terms(terms: Sequence[Term], rejected: Sequence[tuple[str, str]], source: str | None) -> None:
    """Refuse a list of which most lines cannot be a term (a corpus passed as the terms file): filling
    the few that pass would put whole sentences' fragments into slots without anyone noticing."""
    bad = [(t, r) for t, r in rejected if r.startswith(_NOT_A_TERM)]
    if len(terms) < 4 or len(bad) * 2 <= len(terms):
        return
    reasons = Counter(next(p for p in _NOT_A_TERM if r.startswith(p)) for _, r in bad).most_common()
    shown = "; ".join(f"{n:,} {why}" for why, n in reasons)
    example = bad[0][0] if len(bad[0][0]) <= 40 else bad[0][0][:40] + "…"
    raise VocabError(
        f"{len(bad):,} of the {len(terms):,} lines of {source or 'the terms list'} are text, not a "
        f"vocabulary term ({shown}; e.g. {example!r}), so nothing was filled. It looks like a corpus, "
        "not a terms file.",
        "Pass the terms.tsv written by `domainlm mine-terms`, or a .txt file with one term a line "
        "(one eojeol or ##piece each, as the tokenizer's normaliser leaves it).",
    )


def fill_slots(
    tokenizer: str | os.PathLike | LoadedTokenizer,
    terms: Iterable[Term | str],
    out_dir: str | os.PathLike,
    *,
    category: str | None = None,
    source: str | None = None,
    truncate: bool = False,
    contexts: Iterable[str] | Mapping[str, Sequence[str]] | None = None,
    fix_normalizer: bool = False,
    force: bool = False,
    text_normalizer: Callable[[str], str] | None = None,
) -> FillResult:
    """Fill free slots of `tokenizer` with `terms` (in order) and write the result to `out_dir`.

    `category` tags the new entries (default: each Term's own category); `source` is recorded in the
    manifest (e.g. the terms file). `truncate` keeps the first terms when there are more than free
    slots instead of raising. `contexts` (texts, or term → texts) are tokenized to report terms that
    are never emitted. `fix_normalizer` writes strip_accents=False when the normaliser would
    decompose Hangul. `text_normalizer` (what the text goes through before tokenizing; domainlm
    passes its corpus normaliser) rejects terms it changes: they never occur in such text. `out_dir` may be
    the input folder (only its tokenizer files change); any
    other folder must be new, empty or an earlier `vocab fill` output, unless `force`.
    """
    tok = load_tokenizer(tokenizer)
    in_place = is_same_folder(out_dir, tok.path)
    if not in_place:
        check_output_dir(out_dir, FILL_COMMAND, force)
    manifest = _check_consistent(tok)
    free = slot_ids(tok.vocab)
    total = len(free) + len(manifest)
    if total == 0:
        raise VocabError(
            f"{tok.source} has no [unusedN] slots: there is nowhere to put new terms without growing the vocab.",
            NO_SLOTS_HINT,
        )
    fixing = fix_normalizer and not tok.hangul_preserved
    edit = _Edit(tok)
    if fixing:
        edit.fix_normalizer()
    checker = edit.checker()
    _check_keeps_hangul(checker, tok)

    term_list = [checks.as_term(t) for t in terms]
    if not term_list:
        raise VocabError(
            f"No terms to fill{f' from {source}' if source else ''}: the list is empty.",
            "Pass the terms.tsv written by `domainlm mine-terms`, or a .txt file with one term a line.",
        )
    screened = checks.screen_terms(
        term_list,
        checker,
        tok.token_to_id,
        {e.term: e for e in manifest},
        category=category,
        max_input_chars_per_word=tok.max_input_chars_per_word,
        text_normalizer=text_normalizer,
    )
    _check_mostly_terms(term_list, screened.rejected, source)
    accepted, rejected = _fit_free_slots(screened.accepted, list(screened.rejected), len(free), total, truncate)

    new_entries = [_take_slot(edit, slot, term, category, source) for term, slot in zip(accepted, free)]
    files = edit.files(manifest + new_entries)
    reach = _reach_of(files, new_entries + screened.already_filled, term_list, contexts)
    out = write_tokenizer_dir(out_dir, files, command=FILL_COMMAND, force=force, in_place=in_place)
    return FillResult(
        out,
        new_entries,
        rejected,
        [r.term for r in reach if not r.reachable],
        screened.already_filled,
        reach,
        len(free),
        len(free) - len(new_entries),
        total,
        _fill_warnings(tok, fixing),
    )


def _check_keeps_hangul(checker: Tokenizer, tok: LoadedTokenizer) -> None:
    """Refuse a normaliser (after any --fix-normalizer) that decomposes Hangul: no Korean term could match."""
    if checker.normalizer is not None and checker.normalizer.normalize_str(HANGUL_PROBE) != HANGUL_PROBE:
        s = tok.settings
        raise VocabError(
            f"The normaliser of {tok.source} NFD-decomposes Hangul (lowercase={s.lowercase}, "
            f"strip_accents={s.strip_accents}), "
            "so no Korean term could ever be matched.",
            "Pass --fix-normalizer (fix_normalizer=True). " + NFD_FIX,
        )


def _fit_free_slots(
    accepted: list[Term], rejected: list[tuple[str, str]], free: int, total: int, truncate: bool
) -> tuple[list[Term], list[tuple[str, str]]]:
    """The accepted terms that fit in the `free` slots; with `truncate` the rest are rejected, else refused."""
    if len(accepted) <= free:
        return accepted, rejected
    if not truncate:
        raise VocabError(
            f"{len(accepted):,} terms passed the checks but only {free:,} of the {total:,} slots are free.",
            f"Pass --truncate (truncate=True) to fill the first {free:,} (terms files are ranked best first), "
            "or free slots with `domainlm vocab unfill --category NAME`.",
        )
    rejected += [(t.term, f"{checks.NO_SLOT} (--truncate kept the first {free:,} terms)") for t in accepted[free:]]
    return accepted[:free], rejected


def _take_slot(edit: _Edit, slot: int, term: Term, category: str | None, source: str | None) -> SlotEntry:
    """Put `term` at `slot` and return its manifest entry (with what unfill needs to restore the slot)."""
    old = edit.tok.vocab[slot]
    restore = edit.take_slot(slot, term.term)
    return SlotEntry(
        slot,
        old,
        term.term,
        term.kind,
        category if category is not None else term.category,
        term.score,
        source,
        restore,
    )


def _reach_of(
    files: Mapping[str, str],
    checked: list[SlotEntry],
    term_list: Sequence[Term],
    contexts: Iterable[str] | Mapping[str, Sequence[str]] | None,
) -> list[Reach]:
    """Whether the filled tokenizer emits each of the `checked` terms in its contexts and examples."""
    if not checked:
        return []
    filled_tokenizer = Tokenizer.from_str(files["tokenizer.json"])
    examples = {t.term: t.example for t in term_list if t.example}
    return check_reachability(filled_tokenizer, checked, contexts=contexts, examples=examples)


def _fill_warnings(tok: LoadedTokenizer, fixed_normalizer: bool) -> list[str]:
    """What the fill wrote that the tokenizer did not say: assumed settings, a changed normaliser."""
    warnings = []
    if tok.settings.assumed:
        warnings.append(
            f"{tok.source} is a bare vocab.txt: assumed lowercase={tok.settings.lowercase}, strip_accents=False, "
            "and wrote them into tokenizer_config.json. Check they match how the model was trained."
        )
    if fixed_normalizer:
        warnings.append("Wrote strip_accents=False: the filled tokenizer no longer NFD-decomposes Hangul.")
    return warnings


# ---------------------------------------------------------------- unfill


def unfill_slots(
    directory: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    category: str | None = None,
    *,
    terms: Iterable[str] | None = None,
    force: bool = False,
) -> UnfillResult:
    """Restore filled slots from the manifest: all, one `category`'s, or the named `terms`.

    Writes to `out_dir` (default: in place). Restores each slot's old token in vocab.txt and
    tokenizer.json, and whatever added-token registration it had. Another `out_dir` must be new,
    empty or an earlier `vocab unfill` output, unless `force`.
    """
    tok = load_tokenizer(directory)
    in_place = out_dir is None or is_same_folder(out_dir, tok.path)
    target = tok.path if in_place or out_dir is None else out_dir
    if not in_place:
        check_output_dir(target, UNFILL_COMMAND, force)
    if not Path(directory).is_dir() or not has_manifest(tok.path):
        raise VocabError(
            f"{directory} has no {MANIFEST_NAME} (nor its copy in tokenizer_config.json): no slot was filled "
            "by vocab_tools, so there is nothing to unfill.",
            "Pass the directory written by `domainlm vocab fill`.",
        )
    manifest = _check_consistent(tok)
    wanted = set(terms) if terms is not None else None
    chosen = [
        e for e in manifest if (category is None or e.category == category) and (wanted is None or e.term in wanted)
    ]
    if not chosen:
        present = sorted({str(e.category) for e in manifest})
        raise VocabError(
            f"No filled slot matches (category={category!r}{', those terms' if wanted is not None else ''}).",
            f"Categories filled here: {', '.join(present) or 'none'}.",
        )
    edit = _Edit(tok)
    for entry in sorted(chosen, key=lambda e: e.slot_id):
        edit.give_back(entry)
    remaining = [e for e in manifest if e not in chosen]
    files = edit.files(remaining)
    out = write_tokenizer_dir(
        target,
        files,
        remove=() if remaining else (MANIFEST_NAME,),
        command=UNFILL_COMMAND,
        force=force,
        in_place=in_place,
    )
    return UnfillResult(out, chosen, remaining)


__all__ = ["fill_slots", "unfill_slots", "FillResult", "UnfillResult"]
