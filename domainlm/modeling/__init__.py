"""Models: load a masked-LM, prepare it for training (fill, row init, ELECTRA generator), choose what trains,
MLM loss at masked positions. Row-init methods and training modes are registries (`register_row_init`,
`register_mode`).

The registries and the settings types load without torch (the CLI and the recipe schema import them to build
their choices); everything that touches a model loads on first use.
"""

from domainlm.modeling.init_methods import init_filled_rows, register_row_init, row_init_names, unregister_row_init
from domainlm.modeling.train_modes import mode_names, register_mode, unregister_mode

_LAZY = {
    "MaskedLMLoss": "domainlm.modeling.heads",
    "unwrap_peft": "domainlm.modeling.heads",
    "RowInit": "domainlm.modeling.init_rows",
    "base_pieces": "domainlm.modeling.init_rows",
    "wordpiece": "domainlm.modeling.init_rows",
    "build_mlm": "domainlm.modeling.loading",
    "load_mlm": "domainlm.modeling.loading",
    "load_hf_tokenizer": "domainlm.modeling.loading",
    "apply_mode": "domainlm.modeling.modes",
    "merged_model": "domainlm.modeling.modes",
    "no_decay_names": "domainlm.modeling.modes",
    "trainable_parameters": "domainlm.modeling.modes",
    "PreparedModel": "domainlm.modeling.prepare",
    "prepare_model": "domainlm.modeling.prepare",
}

__all__ = [
    "init_filled_rows",
    "register_row_init",
    "unregister_row_init",
    "row_init_names",
    "mode_names",
    "register_mode",
    "unregister_mode",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'domainlm.modeling' has no attribute {name!r}")
