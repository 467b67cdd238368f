"""Text in, terms out: which words does a category need in its vocabulary? No torch.

`mine_terms(corpus, reference, base_tokenizer, config)` counts words (parallel, bounded memory),
derives WordPiece-shaped candidates, scores specificity against a reference corpus and selects a
slot budget by really re-tokenizing. See `domainlm.mining.mine`.
"""

from domainlm.mining.config import MineConfig

__all__ = ["MineConfig", "MiningResult", "mine_terms", "WordPiece", "pretokenize", "load_base_tokenizer"]

_LAZY = {
    "MiningResult": "domainlm.mining.mine",
    "mine_terms": "domainlm.mining.mine",
    "WordPiece": "domainlm.mining.wordpiece",
    "pretokenize": "domainlm.mining.wordpiece",
    "load_base_tokenizer": "domainlm.mining.base_tokenizer",
}


def __getattr__(name: str):
    # Lazy so that the recipe schema can import MineConfig without loading the corpus machinery.
    import importlib

    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'domainlm.mining' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
