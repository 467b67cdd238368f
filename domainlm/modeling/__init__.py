"""Models: load a masked-LM, prepare it for training (fill, row init, ELECTRA generator), choose what trains,
MLM loss at masked positions. Row-init methods and training modes are registries (`register_row_init`,
`register_mode`)."""

from domainlm.modeling.heads import MaskedLMLoss, unwrap_peft
from domainlm.modeling.init_methods import init_filled_rows, register_row_init, row_init_names, unregister_row_init
from domainlm.modeling.init_rows import RowInit, base_pieces, wordpiece
from domainlm.modeling.loading import build_mlm, load_hf_tokenizer, load_mlm
from domainlm.modeling.modes import apply_mode, merged_model, no_decay_names, trainable_parameters
from domainlm.modeling.prepare import PreparedModel, prepare_model
from domainlm.modeling.train_modes import mode_names, register_mode, unregister_mode

__all__ = [
    "MaskedLMLoss",
    "unwrap_peft",
    "RowInit",
    "base_pieces",
    "init_filled_rows",
    "register_row_init",
    "unregister_row_init",
    "row_init_names",
    "wordpiece",
    "build_mlm",
    "load_mlm",
    "load_hf_tokenizer",
    "apply_mode",
    "merged_model",
    "no_decay_names",
    "trainable_parameters",
    "mode_names",
    "register_mode",
    "unregister_mode",
    "PreparedModel",
    "prepare_model",
]
