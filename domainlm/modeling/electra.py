"""ELECTRA's two models: the discriminator (what users fine-tune) and the small generator that corrupts its input.

As in the paper and its best replications (google-research/electra, richarddwang/electra_pytorch,
monologg/KoELECTRA), the generator is a narrower copy of the discriminator (1/4 of its hidden size
for small models, 1/3 for base) and the two share ONE embedding module: token, position and type
embeddings and the embedding LayerNorm (`electra.embeddings`). Each keeps its own projection from
the embedding size to its hidden size (`embeddings_project`), and the generator's output layer is
tied to the shared token embeddings.

kykim/electra-kor-base ships the discriminator only; KoELECTRA checkpoints ship both.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from domainlm.errors import ModelError

# What kind of ELECTRA checkpoint a folder holds is read where models are loaded (re-exported here).
from domainlm.modeling.loading import (  # noqa: F401
    DISCRIMINATOR_CLASS,
    GENERATOR_CLASS,
    check_local_source,
    electra_role,
    load_hf_tokenizer,
    quiet_transformers,
)


def share_embeddings(generator, discriminator) -> None:
    """Make the generator use the discriminator's embedding module (one set of tensors), and tie its
    output layer to the shared token embeddings again."""
    generator.electra.embeddings = discriminator.electra.embeddings
    generator.generator_lm_head.weight = discriminator.electra.embeddings.word_embeddings.weight


def generator_config(discriminator_config, fraction: float):
    """The generator's config: the discriminator's with hidden size, heads and FFN scaled by `fraction`.

    The head size stays the discriminator's (as google-research/electra: heads = hidden / 64), so a
    base discriminator (768, 12 heads) gets a 256-wide generator with 4 heads.
    """
    from transformers import ElectraConfig

    d = discriminator_config
    head_dim = d.hidden_size // d.num_attention_heads
    heads = max(1, round(d.num_attention_heads * fraction))
    hidden = heads * head_dim
    values = d.to_dict()
    for key in ("architectures", "model_type", "transformers_version", "_name_or_path"):
        values.pop(key, None)
    values.update(
        hidden_size=hidden,
        num_attention_heads=heads,
        intermediate_size=max(8, round(d.intermediate_size * hidden / d.hidden_size)),
        architectures=[GENERATOR_CLASS],
    )
    return ElectraConfig(**values)


def build_generator(discriminator, fraction: float):
    """A fresh generator sized `fraction` of `discriminator`, sharing its embeddings."""
    from transformers import ElectraForMaskedLM

    generator = ElectraForMaskedLM(generator_config(discriminator.config, fraction))
    share_embeddings(generator, discriminator)
    return generator


def build_electra(arch, tokenizer):
    """(discriminator, generator) freshly initialised for `pretrain --arch electra` (`ModelArchConfig`)."""
    from transformers import ElectraConfig, ElectraForPreTraining

    if arch.hidden % arch.heads:
        raise ModelError(
            f"hidden ({arch.hidden}) must be a multiple of heads ({arch.heads}).", "Change --hidden or --heads."
        )
    config = ElectraConfig(
        vocab_size=len(tokenizer),
        embedding_size=arch.embedding_size,
        hidden_size=arch.hidden,
        num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads,
        intermediate_size=arch.intermediate or 4 * arch.hidden,
        max_position_embeddings=arch.max_positions,
        pad_token_id=tokenizer.pad_token_id or 0,
        architectures=[DISCRIMINATOR_CLASS],
    )
    discriminator = ElectraForPreTraining(config)
    return discriminator, build_generator(discriminator, arch.generator_share())


def load_generator(path, discriminator, tokenizer):
    """The user's generator (`--generator`), checked against the discriminator and its (base) tokenizer.

    The caller shares the embeddings (`share_embeddings`) once the vocabulary is final.

    Refused: not an ELECTRA generator, another vocabulary, another embedding size. Warned: a
    generator as wide as the discriminator or wider (its task becomes too easy to learn from,
    google-research/electra issue 37).
    """
    from transformers import ElectraForMaskedLM

    name = str(path)
    check_local_source(name, "generator", "--generator")
    role = electra_role(name)
    if role != "generator":
        raise ModelError(
            f"'{name}' is not an ELECTRA generator (an ElectraForMaskedLM checkpoint).",
            "Pass the generator folder of the same ELECTRA model as --generator (KoELECTRA ships it "
            "beside the discriminator), or leave --generator out to build and warm up a small one.",
        )
    try:
        with quiet_transformers():
            generator = ElectraForMaskedLM.from_pretrained(name)
    except Exception as e:
        raise ModelError(
            f"Cannot load the generator '{name}': {type(e).__name__}: {str(e).splitlines()[0][:200]}",
            "Pass a save_pretrained ElectraForMaskedLM folder.",
        ) from None
    d, g = discriminator.config, generator.config
    if g.vocab_size != d.vocab_size or _vocab_differs(name, tokenizer):
        raise ModelError(
            f"The generator '{name}' has another vocabulary than the discriminator "
            f"({g.vocab_size:,} against {d.vocab_size:,} entries, or other tokens).",
            "Pass the generator that was trained with this discriminator (the same vocab.txt).",
        )
    if g.embedding_size != d.embedding_size:
        raise ModelError(
            f"The generator '{name}' has embedding size {g.embedding_size}, the discriminator "
            f"{d.embedding_size}: they cannot share their embeddings.",
            "Pass the generator of this discriminator, or leave --generator out to build one.",
        )
    if g.hidden_size >= d.hidden_size:
        warnings.warn(
            f"The generator '{name}' is as wide as the discriminator or wider ({g.hidden_size} against "
            f"{d.hidden_size}): a strong generator makes replaced-token detection too hard to learn from "
            "(google-research/electra issue 37); ELECTRA uses 1/4 to 1/3 of the discriminator's size.",
            stacklevel=2,
        )
    return generator


def _vocab_differs(name: str, tokenizer) -> bool:
    if not (Path(name) / "tokenizer.json").exists() and not (Path(name) / "vocab.txt").exists():
        return False  # a generator saved without its tokenizer: the sizes were compared
    try:
        other = load_hf_tokenizer(name, option="--generator")
    except ModelError:
        return False
    return other.get_vocab() != tokenizer.get_vocab()
