"""Load one side (before or after) of an evaluation and tokenize texts once per model.

Every text is split into eojeols (whitespace units of the normalised text) BEFORE it reaches the
tokenizer, and the tokenizer is called with `is_split_into_words=True`. Its `word_ids` then map
every token to an eojeol index that means the same thing for the base and the filled vocabulary,
which is what lets MW-BPC mask the same words in both models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from domainlm.errors import ModelError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class Encoded:
    """Token ids of one text with its special tokens, and the eojeol index of each token (None: special)."""

    ids: list[int]
    word_ids: list[int | None]

    def tokens_per_eojeol(self, n_eojeols: int) -> list[int]:
        counts = [0] * n_eojeols
        for w in self.word_ids:
            if w is not None:
                counts[w] += 1
        return counts

    @property
    def n_special(self) -> int:
        return sum(1 for w in self.word_ids if w is None)

    def eojeols_within(self, n_eojeols: int, max_seq_len: int) -> int:
        """How many leading eojeols fit in `max_seq_len` tokens together with the special tokens: where
        a long text is cut, always at an eojeol boundary (0 when the first eojeol alone is too long)."""
        budget = max_seq_len - self.n_special
        total = 0
        for j, c in enumerate(self.tokens_per_eojeol(n_eojeols)):
            total += c
            if total > budget:
                return j
        return n_eojeols

    def cut(self, k: int) -> Encoded:
        """Keep the tokens of the first `k` eojeols and every special token (leading and trailing)."""
        keep = [i for i, w in enumerate(self.word_ids) if w is None or w < k]
        return Encoded([self.ids[i] for i in keep], [self.word_ids[i] for i in keep])


@dataclass
class Side:
    """A model and its tokenizer, loaded once, with a per-text encoding cache."""

    name: str
    path: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    device: str = "cpu"
    precision: str = "fp32"
    _cache: dict[tuple[str, ...], Encoded] = field(default_factory=dict, repr=False)

    def encode(self, eojeol_lists: Sequence[Sequence[str]], batch: int = 2048) -> list[Encoded]:
        """Tokenize each eojeol list once; repeated calls for the same text hit the cache."""
        keys = [tuple(e) for e in eojeol_lists]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache and k))
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            enc = self.tokenizer(
                [list(k) for k in chunk], is_split_into_words=True, add_special_tokens=True, truncation=False
            )
            for i, key in enumerate(chunk):
                self._cache[key] = Encoded(list(enc["input_ids"][i]), list(enc.word_ids(i)))
        out = []
        for key in keys:
            if not key:
                out.append(Encoded([], []))
            else:
                out.append(self._cache[key])
        return out

    def autocast(self):
        """bf16 autocast when asked for (about 2x faster on CPUs with avx512_bf16 and on GPUs); fp32 otherwise."""
        if self.precision != "bf16":
            return nullcontext()
        import torch

        return torch.autocast(device_type=self.device.split(":")[0], dtype=torch.bfloat16)

    @property
    def vocab(self) -> list[str]:
        tok = self.tokenizer
        vocab = tok.get_vocab()
        inv = [""] * (max(vocab.values()) + 1 if vocab else 0)
        for token, i in vocab.items():
            inv[i] = token
        return inv


# Families whose position ids start after the padding index (fairseq heritage): two positions fewer.
_OFFSET_POSITIONS = {"roberta": 2, "xlm-roberta": 2, "camembert": 2}


def max_positions(side: Side) -> int:
    """The longest sequence (special tokens included) the side's model and tokenizer can take."""
    config = getattr(side.model, "config", None)
    limits = []
    n = getattr(config, "max_position_embeddings", None)
    if isinstance(n, int) and n > 0:
        limits.append(n - _OFFSET_POSITIONS.get(getattr(config, "model_type", ""), 0))
    n = getattr(side.tokenizer, "model_max_length", None)
    if isinstance(n, int) and 0 < n < 1_000_000:  # transformers uses a huge sentinel for "no limit"
        limits.append(n)
    return min(limits) if limits else 1 << 30


def _pick_device(device: str | None) -> str:
    import torch

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_side(
    name: str, path: str | Path, device: str | None = None, precision: str = "fp32", loader: Callable | None = None
) -> Side:
    """Load an MLM and its tokenizer (a local HF directory or a cached hub name) with modeling's checks;
    `loader(path) -> (model, tokenizer)` loads another kind (ELECTRA discriminators: detection's)."""
    from domainlm.modeling.loading import load_mlm, quiet_transformers

    path = str(path)
    try:
        # No per-shard "Loading weights" bars: they would tear through the evaluation's own progress bars.
        with quiet_transformers():
            model, tokenizer = (loader or load_mlm)(path)
    except ModelError as e:
        # Say which side failed; modeling's hints name --base, evaluate's options are --before/--after.
        hint = e.hint.replace("--base", f"--{name}") if e.hint else None
        raise ModelError(f"The {name} model: {e.message}", hint) from None
    dev = _pick_device(device)
    model.to(dev).eval()
    return Side(
        name=name,
        path=path,
        model=model,
        tokenizer=tokenizer,
        device=dev,
        precision=_resolved_precision(precision, dev),
    )


def _resolved_precision(precision: str, device: str) -> str:
    """`auto` / `fp32` / `bf16` as what runs on `device` (domainlm.runtime's one rule)."""
    import torch

    from domainlm.runtime import resolve_precision

    kind = device.split(":")[0]
    return resolve_precision(precision, kind, cuda_bf16=kind == "cuda" and torch.cuda.is_bf16_supported())


def encoder_of(model) -> Callable:
    """The transformer body: input ids → last hidden states (no MLM head, no vocab-size logits)."""

    def run(input_ids, attention_mask):
        return model.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return run
