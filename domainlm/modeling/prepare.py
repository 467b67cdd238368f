"""`prepare_model`: the model training starts from, in one call.

The base loaded (its dropped tensors kept), its free `[unusedN]` slots filled with the terms (or a
tokenizer filled by `vocab fill` taken; `resize` grows the vocabulary), the filled rows written by the
chosen row-init method (`domainlm.modeling.init_methods`), and, for an ELECTRA discriminator, its
generator loaded (`--generator`) or built, sharing the discriminator's embeddings. A method that
learns from the domain corpus (distill) does so through `PreparedModel.learn_rows`, which the caller
skips when a checkpoint already holds the trained rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domainlm.corpus.normalize import Normalizer
from domainlm.errors import ConfigError, ModelError, TrainingError
from domainlm.modeling.init_methods import row_init_method


@dataclass
class PreparedModel:
    model: Any
    base_tokenizer: Any
    tokenizer: Any  # the filled tokenizer (the base's when nothing was filled)
    entries: list  # the filled slots (`.slot_id`, `.term`, `.kind`)
    rejected: list  # terms `vocab fill` refused
    slots_json: Path | None
    base_rows: int  # rows of the base before --resize grew it
    init: str  # the row-init method
    kept_tensors: dict = field(default_factory=dict)
    new_head: bool = False
    discriminator: bool = False  # an ELECTRA discriminator, trained by replaced-token detection
    generator: Any = None  # its generator, sharing its embeddings
    generator_given: bool = False  # the user's --generator (else built here)

    @property
    def slot_ids(self) -> list[int]:
        return [e.slot_id for e in self.entries]

    @property
    def appended_rows(self) -> int:
        """Filled slots beyond the base's own rows (appended by --resize)."""
        return sum(1 for e in self.entries if e.slot_id >= self.base_rows)

    def learn_rows(self, texts: Callable[[], Iterable[str]], settings) -> dict | None:
        """The row-init method's learning step on the domain text `texts()` (distill), when it has one and a
        row was filled; its report. `settings`: what the method reads (a TrainConfig)."""
        method = row_init_method(self.init)
        if method.learn is None or not self.entries:
            return None
        return method.learn(self.model, self.base_tokenizer, self.tokenizer, self.entries, texts(), settings)


def prepare_model(
    base,
    *,
    work_dir: Path,
    terms: list | None = None,
    terms_source: str | None = None,
    filled_tokenizer=None,
    select_terms: Callable[[Any, list], list] | None = None,
    init: str = "mean",
    seed: int = 0,
    resize: bool = False,
    truncate: bool = False,
    category: str | None = None,
    new_head: bool = False,
    seq_len: int | None = None,
    generator=None,
    generator_fraction: float | None = None,
) -> PreparedModel:
    """Load `base` and prepare it for training (see the module docstring).

    `terms` (read terms) fill the base's free slots, or `filled_tokenizer` is used as filled;
    `select_terms(base_tokenizer, terms)` picks the terms to fill once the base tokenizer is loaded
    (adapt's slot budget; none picked: nothing is filled). More terms than free slots are refused
    unless `truncate` (the first ones) or `resize` (new rows). `terms_source` is recorded in slots.json.
    `seq_len` longer than the model's positions is refused. `generator`: an ELECTRA discriminator's
    generator folder; without one a new generator `generator_fraction` as wide is built (seeded).
    """
    from domainlm.modeling.loading import load_base

    loaded = load_base(base, new_head=new_head)
    model, base_tokenizer = loaded.model, loaded.tokenizer
    _check_seq_len(seq_len, model)
    user_generator = _user_generator(base, generator, loaded) if generator is not None else None
    if terms and select_terms is not None:
        terms = select_terms(base_tokenizer, terms) or None
    embeddings: Any = model.get_input_embeddings()
    base_rows = int(embeddings.weight.shape[0])
    tokenizer, entries, rejected, slots_json = fill_vocab(
        model,
        base_tokenizer,
        base=str(base),
        terms=terms,
        terms_source=terms_source,
        filled_tokenizer=filled_tokenizer,
        resize=resize,
        category=category,
        work_dir=Path(work_dir),
        truncate=truncate,
    )
    row_init_method(init).write(model, base_tokenizer, entries, seed)
    prepared = PreparedModel(
        model,
        base_tokenizer,
        tokenizer,
        entries,
        rejected,
        slots_json,
        base_rows,
        init,
        kept_tensors=loaded.kept_tensors,
        new_head=loaded.new_head,
        discriminator=loaded.discriminator,
    )
    if loaded.discriminator:
        prepared.generator = _generator_sharing_embeddings(prepared, user_generator, generator_fraction, seed)
        prepared.generator_given = user_generator is not None
    return prepared


def _check_seq_len(seq_len: int | None, model) -> None:
    limit = getattr(model.config, "max_position_embeddings", None)
    if seq_len is not None and limit is not None and seq_len > limit:
        raise ConfigError(
            f"seq_len {seq_len} is longer than the model's {limit} positions.",
            f"Use --seq-len {limit} or less (train.seq_len).",
        )


def _user_generator(base, generator, loaded):
    """The user's generator of an ELECTRA discriminator base (refused for any other base)."""
    if not loaded.discriminator:
        raise ConfigError(
            f"--generator was given but the base '{base}' is not an ELECTRA discriminator.",
            "Leave --generator out: masked-LM bases (BERT, ALBERT) need no generator.",
        )
    from domainlm.modeling.electra import load_generator

    return load_generator(generator, loaded.model, loaded.tokenizer)


def _generator_sharing_embeddings(prepared: PreparedModel, user_generator, fraction: float | None, seed: int):
    """The generator of an ELECTRA discriminator, on the discriminator's embedding module.

    The user's generator gets its filled rows (and their output bias) initialised like the
    discriminator's, then both share one embedding module; without one, a new small generator is
    built on the discriminator's embeddings.
    """
    from domainlm.modeling.electra import build_generator, share_embeddings
    from domainlm.modeling.init_rows import mean_rows

    discriminator = prepared.model
    rows = discriminator.get_input_embeddings().weight.shape[0]
    if user_generator is not None:
        if user_generator.get_input_embeddings().weight.shape[0] < rows:  # --resize grew the discriminator
            user_generator.resize_token_embeddings(rows)
        # On the generator's own copy of the embeddings (dropped by sharing): what matters is its output bias.
        mean_rows(user_generator, prepared.base_tokenizer, prepared.entries, seed=seed)
        share_embeddings(user_generator, discriminator)
        return user_generator
    import torch

    from domainlm.modeling.config import default_generator_fraction

    torch.manual_seed(seed)  # the new generator's initial weights, reproducibly
    return build_generator(discriminator, fraction or default_generator_fraction(discriminator.config.hidden_size))


def check_filled_from_base(base, base_tokenizer, filled_tokenizer, tok) -> None:
    """Refuse a filled tokenizer that is not the base's vocabulary with slots filled (B15): the model's
    rows follow the base's ids, so any other id that means another token trains the wrong row."""
    from vocab_tools.slots import changed_ids

    old = base_tokenizer.convert_ids_to_tokens(list(range(len(base_tokenizer))))
    new = tok.convert_ids_to_tokens(list(range(len(tok))))
    changed = changed_ids(old, new)
    if changed is None:
        why = f"its vocabulary has {len(new):,} entries, fewer than the base's {len(old):,}"
    elif changed:
        shown = ", ".join(f"id {i}: {old[i]!r} → {new[i]!r}" for i in changed[:3])
        why = (
            f"{len(changed):,} of the base's {len(old):,} ids that are not [unusedN] slots hold other tokens ({shown})"
        )
    else:
        return
    raise ModelError(
        f"The filled tokenizer '{filled_tokenizer}' was not filled from the vocabulary of '{base}': {why}. "
        "A filled tokenizer must be the base's own with [unusedN] slots filled (every other id unchanged).",
        f"Fill the base's tokenizer: domainlm vocab fill {base} TERMS -o filled, or pass --terms instead "
        "of --filled-tokenizer.",
    )


def fill_vocab(
    model,
    base_tokenizer,
    *,
    base: str,
    terms: list | None,
    filled_tokenizer,
    resize: bool,
    work_dir: Path,
    terms_source: str | None = None,
    category: str | None = None,
    truncate: bool = False,
):
    """(tokenizer, slot entries, rejected, slots.json path): the base's slots filled with `terms`, or the
    given `filled_tokenizer`, or the base's own (neither given); the model grown where `resize` must.

    More terms than free slots follows `vocab fill`'s one rule: refused unless `truncate` (then
    the first terms, ranked best first, are filled) or `resize` (new rows for the rest).
    """
    if filled_tokenizer is not None:
        return _given_filled_tokenizer(model, base_tokenizer, base, filled_tokenizer, resize)
    if terms is None:
        return base_tokenizer, [], [], None
    if not terms:
        raise TrainingError(
            "The terms file holds no term.", "Run `domainlm mine-terms` first, or pass a non-empty --terms file."
        )
    from transformers import AutoTokenizer

    from vocab_tools import fill_slots

    base_dir = _free_slots_for(model, base_tokenizer, base, len(terms), resize, work_dir)
    result = fill_slots(
        str(base_dir),
        terms,
        work_dir / "filled",
        category=category,
        source=terms_source,
        truncate=truncate,
        text_normalizer=Normalizer(),
    )  # the training text's normaliser (training.data)
    tok = AutoTokenizer.from_pretrained(str(result.out_dir), trust_remote_code=False)
    return tok, list(result.filled), list(result.rejected), Path(result.out_dir) / "slots.json"


def _given_filled_tokenizer(model, base_tokenizer, base: str, filled_tokenizer, resize: bool):
    from transformers import AutoTokenizer

    from vocab_tools.slots import read_manifest

    tok = AutoTokenizer.from_pretrained(str(filled_tokenizer), trust_remote_code=False)
    check_filled_from_base(base, base_tokenizer, filled_tokenizer, tok)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tok) > rows:
        if not resize:
            raise ModelError(
                f"The filled tokenizer '{filled_tokenizer}' has {len(tok):,} entries but the base model "
                f"only {rows:,} rows.",
                "Pass --resize to grow the model, or fill the base's own tokenizer.",
            )
        from domainlm.modeling.resize import grow_model

        grow_model(model, len(tok))
    return tok, read_manifest(filled_tokenizer), [], Path(filled_tokenizer) / "slots.json"


def _free_slots_for(model, base_tokenizer, base: str, count: int, resize: bool, work_dir: Path) -> Path:
    """A copy of the base tokenizer in `work_dir` to fill: grown by the missing slots (and the model by
    their rows) under `resize`; a base with no free slot is refused without it."""
    from vocab_tools.slots import free_slots

    base_dir = work_dir / "base_tokenizer"
    base_tokenizer.save_pretrained(str(base_dir))
    free = free_slots(base_dir)
    if len(free) < count and resize:
        from domainlm.modeling.resize import grow_model, tokenizer_with_new_slots

        appended = tokenizer_with_new_slots(base_tokenizer, count - len(free), base_dir)
        grow_model(model, len(appended))
    elif not free:
        raise ModelError(
            f"The base tokenizer of '{base}' has no free [unusedN] slot to fill with the {count:,} terms.",
            "Pass --resize to append new rows for them (vocabulary and embedding matrix grow), or use a "
            "base with [unusedN] slots (kykim/bert-kor-base has 2,000).",
        )
    return base_dir
