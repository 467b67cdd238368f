"""Text in: read corpora, normalise, filter, dedupe, split held-out. No torch."""

from domainlm.corpus.clean import CleanReport, clean_and_split, clean_corpus, clean_documents
from domainlm.corpus.files import Document
from domainlm.corpus.filters import FilterConfig, StreamingDeduper, is_heldout, text_hash
from domainlm.corpus.normalize import NormalizeConfig, Normalizer, normalize
from domainlm.corpus.reader import CorpusReader, expand_paths, iter_documents, iter_texts
from domainlm.corpus.rows import iter_rows
from domainlm.corpus.spec import CorpusSpec, check_where_columns, corpus_specs, parse_where, row_matches, value_matches
from domainlm.corpus.stats import CorpusStats, corpus_stats

__all__ = [
    "CleanReport",
    "clean_and_split",
    "clean_corpus",
    "clean_documents",
    "FilterConfig",
    "StreamingDeduper",
    "is_heldout",
    "text_hash",
    "NormalizeConfig",
    "Normalizer",
    "normalize",
    "CorpusReader",
    "CorpusSpec",
    "Document",
    "expand_paths",
    "iter_documents",
    "iter_texts",
    "iter_rows",
    "parse_where",
    "corpus_specs",
    "row_matches",
    "value_matches",
    "check_where_columns",
    "CorpusStats",
    "corpus_stats",
]
