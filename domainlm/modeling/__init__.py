"""Models: load a masked-LM, initialise filled rows, choose what trains, MLM loss at masked positions."""

from domainlm.modeling.heads import MaskedLMLoss, unwrap_peft
from domainlm.modeling.init_rows import RowInit, base_pieces, init_filled_rows, wordpiece
from domainlm.modeling.loading import build_mlm, load_hf_tokenizer, load_mlm
from domainlm.modeling.modes import MODES, apply_mode, merged_model, no_decay_names, trainable_parameters

__all__ = [
    "MaskedLMLoss",
    "unwrap_peft",
    "RowInit",
    "base_pieces",
    "init_filled_rows",
    "wordpiece",
    "build_mlm",
    "load_mlm",
    "load_hf_tokenizer",
    "MODES",
    "apply_mode",
    "merged_model",
    "no_decay_names",
    "trainable_parameters",
]
