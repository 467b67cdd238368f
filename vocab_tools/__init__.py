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
    "build_vocab": "vocab_tools.build",
    "BuildResult": "vocab_tools.build",
    "LoadedTokenizer": "vocab_tools.loading",
    "load_tokenizer": "vocab_tools.loading",
    "load_vocab": "vocab_tools.loading",
    "vocab_sha256": "vocab_tools.loading",
    "SlotEntry": "vocab_tools.manifest",
    "read_manifest": "vocab_tools.manifest",
    "free_slots": "vocab_tools.slots",
    "append_slots": "vocab_tools.slots",
    "inspect_tokenizer": "vocab_tools.info",
    "TokenizerInfo": "vocab_tools.info",
    "fill_slots": "vocab_tools.fill",
    "unfill_slots": "vocab_tools.fill",
    "FillResult": "vocab_tools.fill",
    "UnfillResult": "vocab_tools.fill",
    "check_reachability": "vocab_tools.reach",
    "measure": "vocab_tools.metrics",
    "compare": "vocab_tools.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vocab_tools' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__():
    return sorted(list(globals()) + __all__)
