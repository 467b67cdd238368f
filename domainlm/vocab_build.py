"""domainlm side of the torch-free `vocab_tools`: feed it corpora, read through the corpus reader and
normalised with the same seed rules that mining and training use (a term mined from normalised text
is exactly what the tokenizer will see), with progress bars.

Each function here is what one `domainlm vocab …` command calls.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from domainlm.corpus.clean import empty_after_normalisation_error
from domainlm.corpus.normalize import NormalizeConfig, Normalizer
from domainlm.corpus.reader import CorpusReader
from domainlm.corpus.spec import corpus_specs
from domainlm.corpus.stats import empty_corpus_error
from domainlm.errors import ConfigError
from domainlm.progress import progress_bar


def corpus_texts(
    corpus,
    *,
    field: str | None = None,
    encoding: str | None = None,
    where: Mapping | None = None,
    limit: int | None = None,
    normalize: bool | NormalizeConfig = True,
    description: str = "reading corpus",
) -> Iterator[str]:
    """Texts of `corpus` (paths, globs, CorpusSpecs), normalised, with a byte progress bar."""
    reader = CorpusReader(corpus_specs(corpus, where=where), field=field, encoding=encoding)
    normalizer = None
    if normalize:
        normalizer = Normalizer(normalize if isinstance(normalize, NormalizeConfig) else NormalizeConfig())
    docs = iter(reader) if limit is None else itertools.islice(reader, limit)
    read = kept = 0
    with progress_bar(description, total=reader.stats.bytes_total or None, unit="bytes") as update:
        for read, doc in enumerate(docs, 1):
            text = normalizer(doc.text) if normalizer is not None else doc.text
            if text:
                kept += 1
                yield text
            if read % 4096 == 0:
                update(completed=reader.stats.bytes_done)
        update(completed=reader.stats.bytes_total)
    # Said here, where the cause is known, rather than as "no text" by whatever consumes the texts.
    if read == 0:
        raise empty_corpus_error(reader)
    if kept == 0 and normalizer is not None:
        raise empty_after_normalisation_error(read)


def build_vocab_from_corpus(
    corpus,
    out_dir: str | os.PathLike,
    *,
    field: str | None = None,
    encoding: str | None = None,
    where: Mapping | None = None,
    limit: int | None = None,
    normalize: bool = True,
    **options,
):
    """`vocab_tools.build_vocab` over a corpus; `options` are build_vocab's (vocab_size, unused, …)."""
    from vocab_tools.build import build_vocab

    texts = corpus_texts(
        corpus,
        field=field,
        encoding=encoding,
        where=where,
        limit=limit,
        normalize=normalize,
        description="building vocab",
    )
    return build_vocab(texts, out_dir, **options)


def _context_texts(contexts, field, encoding, where, limit: int, normalize: bool) -> list[str] | None:
    if not contexts:
        return None
    return list(
        corpus_texts(
            contexts,
            field=field,
            encoding=encoding,
            where=where,
            limit=limit,
            normalize=normalize,
            description="reading contexts",
        )
    )


def fill_from_terms(
    tokenizer: str | os.PathLike,
    terms,
    out_dir: str | os.PathLike,
    *,
    category: str | None = None,
    truncate: bool = False,
    fix_normalizer: bool = False,
    max_terms: int | None = None,
    contexts=None,
    field: str | None = None,
    encoding: str | None = None,
    where: Mapping | None = None,
    context_limit: int = 50_000,
    normalize: bool = True,
    force: bool = False,
):
    """`vocab_tools.fill_slots` with terms from a file (or a list) and reachability contexts from a corpus."""
    from vocab_tools.atomic import check_output_dir
    from vocab_tools.fill import FILL_COMMAND, fill_slots, is_same_folder
    from vocab_tools.loading import load_tokenizer
    from vocab_tools.terms import read_terms

    source = None
    if isinstance(terms, (str, os.PathLike)):
        source = Path(terms).name
        terms = read_terms(terms)
    terms = list(terms)
    if max_terms is not None:
        terms = terms[:max_terms]
    tok = load_tokenizer(tokenizer)
    if not is_same_folder(out_dir, tok.path):
        check_output_dir(out_dir, FILL_COMMAND, force)  # before the contexts are read, which can take a while
    texts = _context_texts(contexts, field, encoding, where, context_limit, normalize)
    # Terms the normaliser changes never occur in the text mining, training and measuring read.
    return fill_slots(
        tok,
        terms,
        out_dir,
        category=category,
        source=source,
        truncate=truncate,
        contexts=texts,
        fix_normalizer=fix_normalizer,
        force=force,
        text_normalizer=Normalizer() if normalize else None,
    )


def measure_corpus(
    corpus,
    tokenizers: Mapping[str, str | os.PathLike],
    *,
    field: str | None = None,
    encoding: str | None = None,
    where: Mapping | None = None,
    limit: int | None = None,
    normalize: bool = True,
    batch_size: int = 1000,
) -> dict:
    """`vocab_tools.measure` of each tokenizer (name → path) on one corpus."""
    from vocab_tools.metrics import measure

    texts = corpus_texts(
        corpus, field=field, encoding=encoding, where=where, limit=limit, normalize=normalize, description="measuring"
    )
    report = measure(texts, tokenizers, batch_size=batch_size)
    report["normalized"] = bool(normalize)
    return report


def compare_samples(
    tokenizers: Mapping[str, str | os.PathLike],
    *,
    sentences: Iterable[str] = (),
    corpus=None,
    field: str | None = None,
    encoding: str | None = None,
    where: Mapping | None = None,
    limit: int = 10,
    normalize: bool = True,
) -> list[dict]:
    """`vocab_tools.compare` on the given sentences, else on the first `limit` texts of `corpus`."""
    from vocab_tools.metrics import compare

    sentences = list(sentences)
    if not sentences and corpus:
        sentences = list(
            corpus_texts(corpus, field=field, encoding=encoding, where=where, limit=limit, normalize=normalize)
        )
    elif normalize:
        norm = Normalizer()
        sentences = [norm(s) for s in sentences]
    if not sentences:
        raise ConfigError("No sentence to compare.", "Pass sentences as arguments or a corpus with --corpus.")
    return compare(sentences, tokenizers, limit=limit)


__all__ = ["corpus_texts", "build_vocab_from_corpus", "fill_from_terms", "measure_corpus", "compare_samples"]
