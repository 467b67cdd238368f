"""Vocabulary surgery for BERT-style WordPiece tokenizers. Torch-free: `tokenizers` + stdlib only.

Build a vocab with reserved `[unusedN]` slots, inspect any tokenizer, fill and unfill slots with
terms (keeping `vocab.txt` and `tokenizer.json` consistent, every other id unchanged), check that
filled terms are really emitted, and measure fertility / UNK rate / slot usage.

Names are imported lazily so that `import vocab_tools.errors` (done by every domainlm import) stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "VocabError": "vocab_tools.errors",
    "Term": "vocab_tools.terms",
    "read_terms": "vocab_tools.terms",
    "write_terms": "vocab_tools.terms",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vocab_tools' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(list(globals()) + __all__)
