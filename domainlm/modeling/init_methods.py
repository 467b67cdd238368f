"""The row-initialisation methods of filled slots, by name: what `--init`, `train.init` and `vocab.init` choose.

A method is a function (or two) plus one `register_row_init` call carrying its name, how option help
names it, the line the model card adds, and, for a method that learns from the domain corpus (distill),
that second step. The built-ins are registered at the end of this file; a new method is one more
registration, here or in a module imported here. Torch-free: the implementations are imported when used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from domainlm.errors import ConfigError
from domainlm.modeling.registry import RegisteredName, Registry


@dataclass(frozen=True)
class RowInitMethod:
    name: str
    help: str  # how option help and the settings' description name it ("mean of the pieces they replace")
    # write(model, base_tokenizer, entries, seed): the filled rows, in place, before training
    write: Callable[..., Any]
    description: str | None = None  # what the model card says of it after its name (None: the name alone)
    # learn(model, base_tokenizer, tokenizer, entries, texts, settings) -> report dict: after `write`, from
    # contexts of the terms in the domain corpus; skipped on resume (the checkpoint holds the trained rows)
    learn: Callable[..., dict] | None = None

    @property
    def needs_contexts(self) -> bool:
        return self.learn is not None


ROW_INITS: Registry[RowInitMethod] = Registry("row-init method")


def register_row_init(
    name: str,
    *,
    write: Callable[..., Any],
    help: str | None = None,
    description: str | None = None,
    learn: Callable[..., dict] | None = None,
) -> RowInitMethod:
    """Make `name` a choice of `--init` / `train.init` / `vocab.init` (see `RowInitMethod`)."""
    return ROW_INITS.add(name, RowInitMethod(name, help or name, write, description, learn))


def unregister_row_init(name: str) -> None:
    ROW_INITS.remove(name)


def row_init_names() -> tuple[str, ...]:
    return ROW_INITS.names()


def row_init_method(name: str) -> RowInitMethod:
    method = ROW_INITS.lookup(name)
    if method is None:
        raise ConfigError(f"Unknown row initialisation '{name}'.", f"Use one of: {', '.join(row_init_names())}.")
    return method


def row_init_help() -> str:
    """The methods as option help lists them: `a, b, or c`."""
    phrases = [m.help for m in ROW_INITS]
    return (
        phrases[0]
        if len(phrases) == 1
        else f"{', '.join(phrases[:-1])}{',' if len(phrases) > 2 else ''} or {phrases[-1]}"
    )


def init_filled_rows(model, base_tokenizer, entries, method: str = "mean", seed: int = 0):
    """Write the filled rows (`entries`: objects with `.slot_id`, `.term`, `.kind`) in place by `method`'s
    first step (distill starts from the mean); returns what the method reports (the built-ins: `RowInit`s)."""
    return row_init_method(method).write(model, base_tokenizer, entries, seed)


# What train.init / vocab.init hold: a registered method's name, checked against the registry when read.
InitMethodName = Annotated[str, RegisteredName(row_init_names)]


# ---------------------------------------------------------------- the built-in methods


def _mean(model, base_tokenizer, entries, seed: int = 0):
    from domainlm.modeling.init_rows import mean_rows

    return mean_rows(model, base_tokenizer, entries, seed=seed)


def _random(model, base_tokenizer, entries, seed: int = 0):
    from domainlm.modeling.init_rows import random_rows

    return random_rows(model, base_tokenizer, entries, seed=seed)


def _distill(model, base_tokenizer, tokenizer, entries, texts, settings) -> dict:
    """Token Distillation of the filled input rows (see domainlm.modeling.distill); its cost as a dict.

    `settings`: distill_contexts, distill_epochs, distill_lr, seq_len and seed (a TrainConfig)."""
    from dataclasses import asdict

    from domainlm.modeling.distill import distill_rows

    report = distill_rows(
        model,
        base_tokenizer,
        tokenizer,
        entries,
        texts,
        contexts_per_term=settings.distill_contexts,
        max_len=min(settings.seq_len, 128),
        lr=settings.distill_lr,
        epochs=settings.distill_epochs,
        seed=settings.seed,
    )
    result = asdict(report)
    result["without_context"] = result["without_context"][:50]
    return result


register_row_init(
    "mean",
    write=_mean,
    help="mean of the pieces they replace",
    description="mean of the embeddings and decoder bias of the base pieces each term replaces",
)
register_row_init("random", write=_random)
register_row_init(
    "distill", write=_mean, learn=_distill, help="distill (Token Distillation from the base's hidden states)"
)
