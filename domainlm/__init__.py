"""domainlm: domain adaptation of pretrained Korean encoder language models.

The Python API mirrors the command line, one function per command, each importable from here:

    import domainlm

    domainlm.corpus_stats(paths)                      # domainlm corpus stats
    domainlm.clean_corpus(paths, "clean.txt")         # domainlm corpus clean
    domainlm.build_vocab_from_corpus(paths, "tok")    # domainlm vocab build
    domainlm.mine_terms(corpus, reference, base, domainlm.MineConfig(slots=500), "terms")   # mine-terms
    domainlm.fill_slots(base, terms, "filled")        # domainlm vocab fill
    domainlm.adapt(base, "adapted", corpus=..., terms="terms/terms.tsv", config=domainlm.TrainConfig())
    domainlm.pretrain(tokenizer, corpus, "base")      # domainlm pretrain
    domainlm.evaluate(base, "adapted", "adapted.evaluation", domain=heldout)
    domainlm.finetune("adapted", "nsmc", "ft")        # domainlm finetune
    domainlm.benchmark({"base": base, "adapted": "adapted"}, "nsmc", "bench")
    domainlm.run_recipe(domainlm.load_recipe("화장품"), "runs/cosmetics")   # recipe run
    domainlm.push_model("adapted", "me/bert-kor-cosmetics")                  # push

Functions and settings classes load lazily: `import domainlm` does not import torch.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("domainlm")
except PackageNotFoundError:  # running from a source checkout without install
    __version__ = "0.1.0"

from domainlm.errors import DomainLMError  # noqa: E402

# public name -> the module that owns it (one owner per concept; the CLI calls the same functions)
_API = {
    "corpus_stats": "domainlm.corpus.stats",
    "clean_corpus": "domainlm.corpus.clean",
    "NormalizeConfig": "domainlm.corpus.normalize",
    "FilterConfig": "domainlm.corpus.filters",
    "CorpusSpec": "domainlm.corpus.spec",
    "build_vocab_from_corpus": "domainlm.vocab_build",
    "measure_corpus": "domainlm.vocab_build",
    "fill_slots": "vocab_tools.fill",
    "unfill_slots": "vocab_tools.fill",
    "mine_terms": "domainlm.mining.mine",
    "MineConfig": "domainlm.mining.config",
    "adapt": "domainlm.training.adapting",
    "AdaptResult": "domainlm.training.adapting",
    "pretrain": "domainlm.training.pretraining",
    "TrainConfig": "domainlm.training.config",
    "LoraConfig": "domainlm.training.config",
    "PhaseConfig": "domainlm.training.config",
    "ModelArchConfig": "domainlm.training.config",
    "evaluate": "domainlm.evaluation.run",
    "EvalConfig": "domainlm.evaluation.config",
    "finetune": "domainlm.finetune.run",
    "benchmark": "domainlm.finetune.run",
    "FinetuneSettings": "domainlm.finetune.loop",
    "load_recipe": "domainlm.recipes.load",
    "run_recipe": "domainlm.pipeline.runner",
    "push_model": "domainlm.hub",
}

__all__ = ["__version__", "DomainLMError", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value
    raise AttributeError(f"module 'domainlm' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
