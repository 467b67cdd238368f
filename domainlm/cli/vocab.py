"""`domainlm vocab build|info|fill|unfill|measure|compare`: thin commands over vocab_tools."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from domainlm.cli.common import (
    ENCODING_HELP,
    FIELD_HELP,
    WHERE_HELP,
    console,
    err_console,
    kv_table,
    named_paths,
    print_json,
    table,
)
from domainlm.cli.root import app
from domainlm.errors import ConfigError

vocab_app = typer.Typer(
    help="Build, inspect, fill and measure BERT-style WordPiece vocabularies and their \\[unusedN] slots.",
    no_args_is_help=True,
)
app.add_typer(vocab_app, name="vocab")

NORMALIZE_HELP = "Apply domainlm's seed normalisation (as mining and training do) before tokenizing."
TOKENIZER_HELP = "Tokenizer directory, vocab.txt, tokenizer.json or hub id."


def _render_warnings(warnings) -> None:
    for w in warnings:
        message, fix = (w.message, w.fix) if hasattr(w, "message") else (str(w), None)
        if getattr(w, "level", "warning") == "note":
            console.print(f"[bold]Note:[/] {escape(message)}", soft_wrap=True)
        else:
            console.print(f"[bold red]WARNING:[/] [red]{escape(message)}[/]", soft_wrap=True)
        if fix:
            console.print(f"  [yellow]fix: {escape(fix)}[/]", soft_wrap=True)


# ---------------------------------------------------------------- build


@vocab_app.command("build")
def build_command(
    corpus: list[str] = typer.Argument(..., help="Corpus files, directories or globs."),
    output: Path = typer.Option(..., "--output", "-o", help="Tokenizer directory to write (atomically)."),
    vocab_size: int = typer.Option(
        40000, "--vocab-size", min=6, help="Special tokens + learned pieces (kykim: 40000)."
    ),
    unused: int = typer.Option(2000, "--unused", min=0, help="\\[unusedN] slots reserved on top (kykim: 2000)."),
    slots_at: str = typer.Option(
        "start", "--slots-at", help="'start': slots right after \\[PAD]…\\[MASK]; 'end': after the pieces (KoELECTRA)."
    ),
    min_frequency: int = typer.Option(2, "--min-frequency", min=1, help="Least count of a merged piece."),
    limit_alphabet: int | None = typer.Option(
        None, "--limit-alphabet", min=1, help="Keep only this many most frequent characters."
    ),
    cased: bool = typer.Option(
        False, "--cased", help="Keep Latin case (default lowercases; Hangul is never decomposed)."
    ),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] | None = typer.Option(None, "--where", help=WHERE_HELP),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Read at most this many documents."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help=NORMALIZE_HELP),
    force: bool = typer.Option(
        False, "--force", help="Replace an output folder that holds other files (its content is deleted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a WordPiece vocab with \\[PAD] \\[UNK] \\[CLS] \\[SEP] \\[MASK] at 0–4 plus reserved \\[unusedN] slots."""
    from domainlm.corpus import parse_where
    from domainlm.vocab_build import build_vocab_from_corpus

    result = build_vocab_from_corpus(
        corpus,
        output,
        field=field,
        encoding=encoding,
        where=parse_where(where),
        limit=limit,
        normalize=normalize,
        vocab_size=vocab_size,
        unused=unused,
        slots_at=slots_at,
        min_frequency=min_frequency,
        limit_alphabet=limit_alphabet,
        lowercase=not cased,
        force=force,
    )
    if as_json:
        print_json(result.to_dict())
        return
    rows = [
        ("entries", result.vocab_size),
        ("learned pieces", result.pieces),
        ("\\[unusedN] slots", result.unused),
        ("slot ids", f"{result.slot_range[0]}–{result.slot_range[1]}" if result.slot_range else "none"),
        ("lowercase", result.lowercase),
        ("texts", result.texts),
        ("characters", result.characters),
        ("seconds", round(result.seconds, 1)),
    ]
    console.print(kv_table("vocab build", rows))
    _render_warnings(result.warnings)
    console.print(f"Wrote [bold]{escape(str(result.out_dir))}[/]")


# ---------------------------------------------------------------- info


@vocab_app.command("info")
def info_command(
    tokenizer: str = typer.Argument(..., help=TOKENIZER_HELP),
    show_filled: bool = typer.Option(False, "--filled", help="List every filled slot."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Size, special tokens, free and filled \\[unusedN] slots, normaliser settings, and warnings."""
    from vocab_tools.info import inspect_tokenizer

    info = inspect_tokenizer(tokenizer)
    if as_json:
        print_json(info.to_dict())
        return
    n = info.normalizer
    specials = ", ".join(f"{escape(t)}={i if i is not None else 'missing'}" for t, i in info.specials.values())
    rows = [
        ("source", escape(info.source)),
        ("files", ", ".join(info.files)),
        ("vocab size", info.size),
        ("special tokens", specials),
        ("slots (total)", info.total_slots),
        ("free slots", info.free_slots),
        ("free slot ids", info.free_ranges),
        ("filled slots", len(info.filled)),
        ("filled slot ids", info.filled_ranges),
    ]
    rows += [(f"filled: {escape(cat)}", count) for cat, count in sorted(info.filled_by_category.items())]
    if info.slots_as_added_tokens:
        rows.append(("free slots registered as added tokens", info.slots_as_added_tokens))
    if info.extra_added_tokens:
        rows.append(("added tokens beyond the vocab", info.extra_added_tokens))
    rows += [
        ("normaliser", f"{n['kind']} lowercase={n['lowercase']} strip_accents={n['strip_accents']} ({n['origin']})"),
        ("Hangul kept intact", info.hangul_preserved),
    ]
    console.print(kv_table("tokenizer", rows))
    if show_filled and info.filled:
        console.print(
            table(
                "filled slots",
                ["slot", "old", "term", "kind", "category", "score", "source"],
                [
                    (
                        e.slot_id,
                        escape(e.old_token),
                        escape(e.term),
                        e.kind,
                        escape(e.category or ""),
                        e.score,
                        escape(e.source or ""),
                    )
                    for e in info.filled
                ],
            )
        )  # blank, not "None", when untagged
    _render_warnings(info.warnings)


# ---------------------------------------------------------------- fill / unfill


@vocab_app.command("fill")
def fill_command(
    tokenizer: str = typer.Argument(..., help=TOKENIZER_HELP),
    terms: Path = typer.Argument(
        ...,
        help="terms.tsv / terms.json from `domainlm mine-terms`, or a .txt with one term a line (##x = continuation).",
    ),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Directory for the filled tokenizer (written atomically; may be the input)."
    ),
    category: str | None = typer.Option(
        None, "--category", "-c", help="Tag the filled slots with this category (default: the terms file's)."
    ),
    truncate: bool = typer.Option(
        False, "--truncate", help="Fill as many terms as there are free slots instead of failing."
    ),
    max_terms: int | None = typer.Option(None, "--max-terms", min=1, help="Use only the first N terms of the file."),
    fix_normalizer: bool = typer.Option(
        False, "--fix-normalizer", help="Write strip_accents=false if the normaliser would decompose Hangul."
    ),
    contexts: list[str] | None = typer.Option(
        None, "--contexts", help="Corpus whose texts are tokenized to check each term is really emitted. Repeatable."
    ),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP + " (of --contexts)"),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] | None = typer.Option(None, "--where", help=WHERE_HELP),
    show_rejected: int = typer.Option(20, "--show-rejected", min=0, help="How many rejected terms to list."),
    force: bool = typer.Option(
        False, "--force", help="Replace an output folder that holds other files (its content is deleted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write terms into free \\[unusedN] slots of vocab.txt and tokenizer.json (same ids), \
with a slots.json manifest."""
    from domainlm.corpus import parse_where
    from domainlm.vocab_build import fill_from_terms

    result = fill_from_terms(
        tokenizer,
        terms,
        output,
        category=category,
        truncate=truncate,
        fix_normalizer=fix_normalizer,
        max_terms=max_terms,
        contexts=contexts,
        field=field,
        encoding=encoding,
        where=parse_where(where),
        force=force,
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _render_fill(result, show_rejected)


def _render_fill(result, show_rejected: int) -> None:
    """What was filled, rejected and never emitted, the warnings, and where it was written."""
    rows = [
        ("filled now", len(result.filled)),
        ("already filled (unchanged)", len(result.already_filled)),
        ("rejected", len(result.rejected)),
        ("never emitted (unreachable)", len(result.unreachable)),
        ("free slots before → after", f"{result.free_before:,} → {result.free_after:,} of {result.total_slots:,}"),
    ]
    console.print(kv_table("vocab fill", rows))
    if result.rejected and show_rejected:
        console.print(
            table(
                "rejected terms",
                ["term", "reason"],
                [(escape(t), escape(r)) for t, r in result.rejected[:show_rejected]],
            )
        )
        if len(result.rejected) > show_rejected:
            console.print(f"… and {len(result.rejected) - show_rejected:,} more (--json lists all).")
    if result.unreachable:
        shown = ", ".join(result.unreachable[:20]) + (" …" if len(result.unreachable) > 20 else "")
        console.print(
            f"[yellow]WordPiece never emitted these filled terms in their contexts: {escape(shown)}[/]", soft_wrap=True
        )
        console.print(
            "[yellow]A longer piece wins the greedy longest match; consider replacing them "
            "(`domainlm vocab unfill --term …`).[/]",
            soft_wrap=True,
        )
    _render_warnings(result.warnings)
    console.print(f"Wrote [bold]{escape(str(result.out_dir))}[/]")


@vocab_app.command("unfill")
def unfill_command(
    directory: Path = typer.Argument(
        ..., help="A tokenizer directory written by `domainlm vocab fill` (has slots.json)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here instead of in place."),
    category: str | None = typer.Option(None, "--category", "-c", help="Free only this category's slots."),
    term: list[str] | None = typer.Option(None, "--term", help="Free only these terms. Repeatable."),
    force: bool = typer.Option(
        False, "--force", help="Replace an output folder that holds other files (its content is deleted)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Restore filled slots to their old \\[unusedN] tokens, from the slots.json manifest."""
    from vocab_tools.fill import unfill_slots

    result = unfill_slots(directory, output, category=category, terms=term or None, force=force)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"Restored [bold]{len(result.restored):,}[/] slots; {len(result.remaining):,} stay filled. "
        f"Wrote [bold]{escape(str(result.out_dir))}[/]"
    )


# ---------------------------------------------------------------- measure / compare


def _pct(x) -> str:
    return "—" if x is None else f"{x:.2%}"


@vocab_app.command("measure")
def measure_command(
    corpus: list[str] = typer.Argument(..., help="Corpus files, directories or globs (held-out text of the category)."),
    tokenizers: list[str] = typer.Option(
        ..., "--tokenizer", "-t", help="Tokenizer, optionally NAME=PATH. Give two (before, after) to compare."
    ),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] | None = typer.Option(None, "--where", help=WHERE_HELP),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Measure on at most this many documents."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help=NORMALIZE_HELP),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write the JSON report here."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing -o file that `vocab measure` did not write."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Fertility (tokens per eojeol), UNK rate and filled-slot usage of one or more tokenizers."""
    from domainlm.corpus import parse_where
    from domainlm.io import write_json
    from domainlm.vocab_build import measure_corpus
    from vocab_tools.atomic import check_output_file, record_file_owner

    if output is not None:  # before the measurement, which can take a while
        check_output_file(output, "vocab measure", force, inputs=[*corpus, *tokenizers])
    report = measure_corpus(
        corpus,
        named_paths(tokenizers, "-t", bare=True),
        field=field,
        encoding=encoding,
        where=parse_where(where),
        limit=limit,
        normalize=normalize,
    )
    if output is not None:
        write_json(output, report)
        record_file_owner(output, "vocab measure")
    if as_json:
        print_json(report)
        for warning in report.get("warnings", []):  # stdout stays pure JSON
            err_console.print(f"[bold red]WARNING:[/] [red]{escape(warning)}[/]", soft_wrap=True)
        return
    # Metrics as rows, tokenizers as columns: stays readable in 80 columns for before/after.
    names = list(report["tokenizers"])
    ms = [report["tokenizers"][n] for n in names]
    gains = report.get("compression_gain", {})
    rows = [
        ("vocab size", *[m["vocab_size"] for m in ms]),
        ("tokens", *[m["tokens"] for m in ms]),
        ("fertility (tokens/eojeol)", *[f"{m['fertility']:.4f}" for m in ms]),
        ("UNK rate (per token)", *[_pct(m["unk_rate"]) for m in ms]),
        ("UNK per eojeol", *[f"{m['unk_per_eojeol']:.4f}" for m in ms]),
        (
            "filled slots emitted",
            *[f"{m['filled_slots_emitted']:,} / {m['filled_slots']:,}" if m["filled_slots"] else "—" for m in ms],
        ),
        ("slot usage", *[_pct(m["slot_usage"]) for m in ms]),
        ("tokens from filled slots", *[_pct(m["slot_token_share"]) if m["filled_slots"] else "—" for m in ms]),
    ]
    if gains:
        rows.append(("compression gain", *["baseline" if n not in gains else _pct(gains[n]) for n in names]))
    console.print(table(f"{report['texts']:,} texts, {report['eojeols']:,} eojeols", ["", *map(escape, names)], rows))
    _render_warnings(report.get("warnings", []))
    for name, m in report["tokenizers"].items():
        if m["top_slot_terms"]:
            top = ", ".join(f"{t['term']} {t['count']:,}" for t in m["top_slot_terms"][:10])
            console.print(f"[bold]{escape(name)}[/] most used filled terms: {escape(top)}", soft_wrap=True)
    if output is not None:
        console.print(f"Wrote [bold]{escape(str(output))}[/]")


@vocab_app.command("compare")
def compare_command(
    sentences: list[str] | None = typer.Argument(None, help="Sentences to tokenize (or use --corpus)."),
    tokenizers: list[str] = typer.Option(
        ..., "--tokenizer", "-t", help="Tokenizer, optionally NAME=PATH. Repeat for before/after."
    ),
    corpus: list[str] | None = typer.Option(None, "--corpus", help="Take sample sentences from this corpus."),
    field: str | None = typer.Option(None, "--field", help=FIELD_HELP),
    encoding: str | None = typer.Option(None, "--encoding", help=ENCODING_HELP),
    where: list[str] | None = typer.Option(None, "--where", help=WHERE_HELP),
    limit: int = typer.Option(10, "--limit", min=1, help="How many sentences."),
    normalize: bool = typer.Option(True, "--normalize/--no-normalize", help=NORMALIZE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Side-by-side tokenization of sample sentences; tokens from filled slots are highlighted."""
    from domainlm.corpus import parse_where
    from domainlm.vocab_build import compare_samples

    if not sentences and not corpus:
        raise ConfigError("Nothing to compare.", "Pass sentences as arguments, or --corpus FILE.")
    rows = compare_samples(
        named_paths(tokenizers, "-t", bare=True),
        sentences=sentences or (),
        corpus=corpus,
        field=field,
        encoding=encoding,
        where=parse_where(where),
        limit=limit,
        normalize=normalize,
    )
    if as_json:
        print_json(rows)
        return
    names = list(rows[0]["tokens"])
    width = max(map(len, names))
    # Filled-slot tokens are green where colour shows; without colour (NO_COLOR, a pipe, TERM=dumb)
    # they are starred, so the legend never names a colour nobody sees.
    coloured = console.color_system is not None and not console.no_color
    mark = (lambda t: f"[bold green]{escape(t)}[/]") if coloured else (lambda t: f"*{escape(t)}*")
    # One block per sentence (not a table): token sequences are long and must not be cut off.
    for row in rows:
        console.print(f"[bold]{escape(row['text'])}[/]", soft_wrap=True)
        for name in names:
            marked = set(row["from_slots"][name])
            tokens = " ".join(mark(t) if k in marked else escape(t) for k, t in enumerate(row["tokens"][name]))
            console.print(
                f"  [cyan]{escape(name):<{width}}[/] [dim]{len(row['tokens'][name]):>3}[/]  {tokens}", soft_wrap=True
            )
    legend = "green" if coloured else "*starred*"
    console.print(f"[dim]{legend}: tokens from filled slots; the number is the token count[/]")


__all__ = ["vocab_app"]
