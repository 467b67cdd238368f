"""Load a masked-LM and its tokenizer from a local directory or a hub id, or build a fresh one.

Errors say what is missing and how to fix it: an offline hub names the cache that was searched and
how to pass a local directory instead.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from domainlm.errors import ModelError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

SUPPORTED_FAMILIES = ("bert", "albert", "electra", "roberta", "distilbert")


def _hub_cache() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:  # pragma: no cover - huggingface_hub always comes with transformers
        return os.path.expanduser("~/.cache/huggingface/hub")


def looks_like_path(name: str) -> bool:
    """True when `name` can only mean a local path, so the hub is never asked about it.

    A string starting with ./ ../ / ~, one whose parent folder exists (`out/base` next to `out/`),
    or one that is not a valid hub id (`a/b/c`, spaces, `..`) is a path: asking the hub about it
    only costs retries (about a minute without a network) before the same "not found".
    """
    if name.startswith(("./", "../", "/", "~", ".\\", "..\\")) or name in (".", ".."):
        return True
    parent = Path(name).expanduser().parent
    if str(parent) not in ("", ".") and parent.is_dir():
        return True
    try:
        from huggingface_hub.utils import validate_repo_id

        validate_repo_id(name)
    except Exception:
        return True
    return False


def check_local_source(name: str, what: str = "model", option: str = "--base") -> None:
    """Raise at once for a path that does not exist or is not a model folder (no hub round trip)."""
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelError(
                f"The {what} '{name}' is a file, not a model folder.",
                "Pass the folder that holds config.json and the tokenizer files (a save_pretrained "
                "directory), or a hub id.",
            )
        refuse_remote_code(name, what)
        return
    if looks_like_path(name):
        raise ModelError(f"The {what} directory '{name}' does not exist.", f"Check the path passed as {option}.")
    refuse_remote_code(name, what)  # a hub id: its cached config, when there is one


# Files whose `auto_map` makes transformers import Python code shipped with the model.
REMOTE_CODE_FILES = ("config.json", "tokenizer_config.json")


def refuse_remote_code(name: str, what: str = "model") -> None:
    """Raise ModelError when a model folder asks to run its own code (an `auto_map` entry).

    domainlm never runs code from a model folder: every transformers load passes
    `trust_remote_code=False` as well, so a model this check cannot see (a hub id not yet in the
    cache) is refused by transformers instead of prompting. Checked first, for a clear message.
    """
    for filename in REMOTE_CODE_FILES:
        data = _read_json(name, filename)
        if isinstance(data, dict) and data.get("auto_map"):
            classes = data["auto_map"]
            shown = (
                ", ".join(f"{k} → {v}" for k, v in list(classes.items())[:3])
                if isinstance(classes, dict)
                else str(classes)[:120]
            )
            raise ModelError(
                f"The {what} '{name}' asks to run its own Python code ({filename} has an auto_map: {shown[:300]}). "
                "domainlm never runs code from a model folder, so it was not loaded and nothing in it was run.",
                "Use a model whose architecture transformers ships (BERT, ALBERT, ELECTRA, RoBERTa): remove the "
                "auto_map (and the .py files) only if you have read that code and its model_type is one of those.",
            )


def load_hf_tokenizer(name_or_path: str | os.PathLike, *, option: str = "--base"):
    """A *fast* (Rust) tokenizer: training needs its batch encoding and offsets. `option` is the
    command-line option that named it (for the hint when the path does not exist)."""
    from transformers import AutoTokenizer

    name = str(name_or_path)
    if Path(name).expanduser().is_file():  # a bare vocab.txt or tokenizer.json (P19)
        return _checked_tokenizer(_tokenizer_from_file(Path(name).expanduser()), name)
    check_local_source(name, "tokenizer", option)
    try:
        tok = AutoTokenizer.from_pretrained(name, trust_remote_code=False)
    except Exception as e:
        # A broken tokenizer.json raises json's ValueError or the tokenizers library's bare Exception.
        if _is_damaged_file(e) or type(e) is Exception or not isinstance(e, (OSError, ValueError)):
            raise damaged_error(name, "tokenizer", e, TOKENIZER_FILES) from None
        raise load_error(name, "tokenizer", e) from None
    return _checked_tokenizer(tok, name)


def _tokenizer_from_file(path: Path):
    """A fast tokenizer from a bare vocab.txt or tokenizer.json, read as `vocab_tools` reads it (a
    file that is not a vocabulary is refused there) and written as a tokenizer folder first, so it
    loads (and is saved with a model) exactly as a `vocab build` folder would be."""
    import shutil
    import tempfile

    from transformers import AutoTokenizer

    from domainlm.errors import warn
    from vocab_tools.loading import load_tokenizer as read_tokenizer_files
    from vocab_tools.writing import dumps, special_tokens_map, tokenizer_config, tokenizer_json_text

    loaded = read_tokenizer_files(path)
    if loaded.settings.assumed:
        warn(
            f"'{path}' is a bare vocab.txt, which does not say how to normalise text: assumed "
            f"lowercase={loaded.settings.lowercase}, strip_accents=False (written into the output's tokenizer). "
            "Pass a tokenizer folder (e.g. from `domainlm vocab build`) to choose."
        )
    folder = Path(tempfile.mkdtemp(prefix="domainlm-tokenizer-"))
    try:
        specials = loaded.special_tokens
        files = {
            "tokenizer.json": tokenizer_json_text(loaded.tokenizer_json_data()),
            "vocab.txt": "\n".join(loaded.vocab) + "\n",
            "tokenizer_config.json": dumps(tokenizer_config(loaded.settings, specials)),
            "special_tokens_map.json": dumps(special_tokens_map(specials)),
        }
        for file, text in files.items():
            (folder / file).write_text(text, encoding="utf-8")
        return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _checked_tokenizer(tok, name: str):
    if not getattr(tok, "is_fast", False):
        raise ModelError(
            f"The tokenizer of '{name}' has no fast (Rust) version.",
            "Save it with tokenizer.json (AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(dir)).",
        )
    if tok.mask_token_id is None:
        raise ModelError(
            f"The tokenizer of '{name}' has no mask token, so it cannot be used for masked-LM training.",
            "Use a BERT-style tokenizer with [MASK].",
        )
    return tok


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


DISCRIMINATOR_CLASS = "ElectraForPreTraining"
GENERATOR_CLASS = "ElectraForMaskedLM"


def electra_role(name_or_path) -> str | None:
    """ "discriminator", "generator" or None (not ELECTRA), read from a local folder's config.json.

    A hub id not in a local folder is read through the hub cache; when nothing can be read, None.
    """
    config = _read_config(name_or_path)
    if not config or config.get("model_type") != "electra":
        return None
    architectures = config.get("architectures") or []
    if GENERATOR_CLASS in architectures:
        return "generator"
    # No recorded class: an ELECTRA checkpoint for adaptation is a discriminator unless it says otherwise.
    return "discriminator"


def _read_config(name_or_path) -> dict | None:
    return _read_json(name_or_path, "config.json")


def _read_json(name_or_path, filename: str) -> dict | None:
    """`filename` of a local model folder, or of a hub id in the local cache, as JSON; None when unreadable."""
    path = Path(str(name_or_path)).expanduser()
    if path.is_dir():
        file = path / filename
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(str(name_or_path), filename)
        except Exception:
            return None
        if not isinstance(found, str):
            return None
        file = Path(found)
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class LoadedBase:
    """A base masked-LM, its tokenizer, and what the masked-LM class left out of its checkpoint."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    # Tensors of the base checkpoint that the masked-LM class does not hold (BERT's pooler and NSP
    # head, ALBERT's pooler and SOP head), under the names they get in the masked-LM's checkpoint.
    kept_tensors: dict = field(default_factory=dict)
    new_head: bool = False
    discriminator: bool = False  # an ELECTRA discriminator (ElectraForPreTraining), trained by RTD


def load_mlm(name_or_path: str | os.PathLike, *, new_head: bool = False):
    """Return `(model, tokenizer)` of a masked-LM (BERT, ALBERT, ELECTRA generator, RoBERTa …).

    A checkpoint without masked-LM head weights (e.g. a BertForSequenceClassification one) is
    refused: its head would start random. `new_head=True` accepts it and starts a new head.
    """
    base = load_base(name_or_path, new_head=new_head, keep_tensors=False, allow_generator=True)
    if base.discriminator:
        raise ModelError(
            f"'{name_or_path}' is an ELECTRA discriminator: it detects replaced tokens and has no "
            "masked-LM head to predict them with.",
            "Use a masked-LM checkpoint here; discriminators are scored by replaced-word detection.",
        )
    return base.model, base.tokenizer


def load_base(
    name_or_path: str | os.PathLike, *, new_head: bool = False, keep_tensors: bool = True, allow_generator: bool = False
) -> LoadedBase:
    """`load_mlm`, plus the base checkpoint's tensors the masked-LM class dropped (`keep_tensors`).

    An ELECTRA discriminator loads as `ElectraForPreTraining` (its head is the replaced-token
    detector, `discriminator` is True); an ELECTRA generator is refused as a base to adapt (it is
    a masked-LM, loaded as one with `allow_generator`, e.g. to score it by MW-BPC).
    """
    from transformers import AutoModelForMaskedLM, ElectraForPreTraining

    name = str(name_or_path)
    check_local_source(name)
    refuse_non_model_folder(name)
    role = electra_role(name)
    if role == "generator" and not allow_generator:
        raise ModelError(
            f"'{name}' is an ELECTRA generator (ElectraForMaskedLM), not the discriminator that is "
            "fine-tuned and adapted.",
            "Pass the discriminator (ElectraForPreTraining) as --base, and this folder as --generator.",
        )
    tokenizer = load_hf_tokenizer(name)
    model_class = ElectraForPreTraining if role == "discriminator" else AutoModelForMaskedLM
    kind = "replaced-token detection" if role == "discriminator" else "masked-LM"
    try:
        with quiet_transformers():
            loaded = model_class.from_pretrained(name, output_loading_info=True, trust_remote_code=False)
        # With output_loading_info the call returns (model, info); transformers' stubs say a model.
        model, info = cast("tuple[Any, dict]", loaded)
    except ValueError as e:
        # AutoModel raises ValueError for a config class it has no masked-LM head for.
        if "Unrecognized configuration class" in str(e) or "masked" in str(e).lower():
            raise ModelError(
                f"'{name}' is not a model with a masked-LM head ({str(e).splitlines()[0][:160]}).",
                "Pass a BERT, ALBERT, ELECTRA or RoBERTa masked-LM checkpoint.",
            ) from None
        raise load_error(name, "model", e) from None
    except OSError as e:
        raise load_error(name, "model", e) from None
    except Exception as e:  # safetensors' SafetensorError, torch's unpickling errors: a damaged file
        raise damaged_error(name, "model", e, WEIGHT_FILES) from None
    if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
        raise ModelError(
            f"'{name}': the tokenizer has {len(tokenizer):,} entries but the model only "
            f"{model.get_input_embeddings().weight.shape[0]:,} embedding rows.",
            "Use the tokenizer that belongs to this model.",
        )
    prefix = getattr(model, "base_model_prefix", "") or ""
    tied = set(getattr(model, "_tied_weights_keys", None) or {})
    # In a masked-LM (or pretraining) class everything outside the encoder is the head.
    head_missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(prefix + ".") and k not in tied)
    if head_missing and not new_head:
        shown = ", ".join(head_missing[:4]) + (" …" if len(head_missing) > 4 else "")
        raise ModelError(
            f"'{name}' has no {kind} head weights ({shown} are missing): it is not a {kind} or pretraining "
            "checkpoint (a sequence-classification or bare encoder one, for instance), so the head would start "
            "random and the held-out loss before adaptation would mean nothing.",
            f"Pass the {kind} / pretraining checkpoint of this model as --base, or pass --new-head to train a "
            f"new {kind} head from scratch on purpose.",
        )
    kept = _dropped_tensors(name, sorted(info.get("unexpected_keys", ())), prefix) if keep_tensors else {}
    return LoadedBase(model, tokenizer, kept, new_head=bool(head_missing), discriminator=role == "discriminator")


def refuse_non_model_folder(name: str) -> None:
    """A folder without config.json is not a model: say what it is (an adapter, a tokenizer) and what to pass."""
    folder = Path(name).expanduser()
    if not folder.is_dir() or (folder / "config.json").exists():
        return
    if (folder / "adapter" / "adapter_config.json").is_file():
        raise ModelError(
            f"'{name}' holds a LoRA adapter only (adapt --save adapter), no merged model.",
            f"Load it with domainlm.modeling.adapters.load_adapted('{folder / 'adapter'}') and merge_and_unload() "
            "it, or rerun adapt with --save both.",
        )
    if any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        # P13: transformers says "Should have a `model_type` key in its config.json" of a file that is not there.
        raise ModelError(
            f"'{name}' holds a tokenizer, not a model (it has no config.json and no weights).",
            "Pass a model folder (config.json, weights and tokenizer), e.g. the output of `domainlm "
            "adapt` or `domainlm pretrain`; a tokenizer alone is for `pretrain --tokenizer`.",
        )
    raise ModelError(
        f"'{name}' is not a model folder: it has no config.json.",
        "Pass the folder save_pretrained wrote (config.json, weights, tokenizer), or a hub id.",
    )


@contextmanager
def quiet_transformers():
    """transformers' own chatter around a load or a save, silenced and then restored.

    Its LOAD REPORT lists the keys a class does not use (a pretraining base's pooler and NSP head, for
    a masked-LM); those are handled here (kept, or refused when the head is missing), so the table would
    only tell a user about a problem that is not there. Its tqdm bars ("Loading weights", "Writing model
    shards") would break domainlm's own progress display, in the CLI and in library use alike.
    """
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)
        if bars:
            hf_logging.enable_progress_bar()


def _weight_files(name: str) -> list[Path]:
    """The local weight files of a model folder or of a cached hub model (safetensors preferred)."""
    local = Path(name).expanduser()

    def find(filename: str) -> Path | None:
        if local.is_dir():
            return local / filename if (local / filename).is_file() else None
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(name, filename)
        except Exception:
            return None
        return Path(found) if isinstance(found, str) else None

    for single, index in (
        ("model.safetensors", "model.safetensors.index.json"),
        ("pytorch_model.bin", "pytorch_model.bin.index.json"),
    ):
        if (path := find(single)) is not None:
            return [path]
        if (path := find(index)) is not None:
            shards = sorted(set(json.loads(path.read_text(encoding="utf-8")).get("weight_map", {}).values()))
            files = [find(s) for s in shards]
            if all(files):
                return files  # type: ignore[return-value]
    return []


def _dropped_tensors(name: str, keys: list[str], prefix: str) -> dict:
    """Read the tensors `keys` (unexpected for the masked-LM class) from the base's weight files."""
    if not keys:
        return {}
    import torch

    wanted = set(keys)
    found: dict = {}
    for path in _weight_files(name):
        try:
            if path.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(path), "pt") as fh:
                    for key in wanted & set(fh.keys()):
                        found[key] = fh.get_tensor(key)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
                found.update({k: v for k, v in state.items() if k in wanted})
        except Exception as e:
            raise damaged_error(name, "model", e, (path.name,)) from None
    # A bare-encoder checkpoint (BertModel: `pooler.*`) names its tensors without the encoder
    # prefix; in the masked-LM's checkpoint they live under it (`bert.pooler.*`).
    if prefix and found and not any(k.startswith(prefix + ".") for k in found):
        found = {f"{prefix}.{k}": v for k, v in found.items()}
    return {k: found[k].contiguous() for k in sorted(found)}


def _is_damaged_file(exc: Exception) -> bool:
    import pickle

    text = str(exc)
    return (
        type(exc).__name__ == "SafetensorError"
        or isinstance(exc, (pickle.UnpicklingError, EOFError, json.JSONDecodeError))
        or any(
            s in text
            for s in (
                "PytorchStreamReader",
                "deserializ",
                "invalid load key",
                "EOF while parsing",
                "expected value at line",
            )
        )
    )


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return True


def damaged_error(name: str, what: str, exc: Exception, candidates) -> ModelError:
    if "Weights only load failed" in str(exc):
        # P18: not damaged: a pickle with objects other than tensors, which could run code when unpickled.
        return ModelError(
            f"The {what} weights of '{name}' are a pickle that holds objects other than tensors; "
            "domainlm loads weights only and never runs code from a model file.",
            "Use a model saved as safetensors (save_pretrained writes model.safetensors); convert "
            "this one only where you trust its origin.",
        )
    if not _is_damaged_file(exc):
        first = (str(exc).splitlines() or [""])[0][:200]
        return ModelError(
            f"Cannot load the {what} from '{name}': {type(exc).__name__}: {first}",
            "The folder must hold a Hugging Face save_pretrained model (config.json, weights) and its tokenizer files.",
        )
    local = Path(name).expanduser()
    files = [local / f for f in candidates if (local / f).is_file()] if local.is_dir() else []
    unreadable = [f for f in files if f.suffix == ".json" and not _parses(f)]
    files = unreadable or files
    where = " or ".join(f"'{f}'" for f in files[:2]) if files else f"the {what} files of '{name}'"
    first = (str(exc).splitlines() or [""])[0][:200]
    return ModelError(
        f"Cannot read {where}: the file is damaged or incomplete ({type(exc).__name__}: {first}).",
        "Copy or download the model again (an interrupted download or a full disk leaves such files), then rerun.",
    )


def load_error(name: str, what: str, exc: Exception, option: str = "--base") -> ModelError:
    path = Path(name)
    if path.exists():
        return ModelError(
            f"Cannot load the {what} from '{name}': {str(exc).splitlines()[0][:200]}",
            "The directory must hold a Hugging Face save_pretrained model (config.json, weights) and tokenizer files.",
        )
    looks_local = name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]
    if looks_local:
        return ModelError(f"The {what} directory '{name}' does not exist.", f"Check the path passed as {option}.")
    offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or os.environ.get(
        "TRANSFORMERS_OFFLINE", ""
    ) not in ("", "0")
    reason = "offline mode is on (HF_HUB_OFFLINE)" if offline else "the Hugging Face hub could not be reached"
    return ModelError(
        f"Cannot load the {what} '{name}': it is not a local directory, {reason}, and it is not in the "
        f"cache at {_hub_cache()}.",
        f"Download it where the hub is reachable (`hf download {name} --local-dir DIR`) and pass "
        f"that directory ({option} DIR), or set HF_HOME to a cache that holds it.",
    )


def build_mlm(arch, tokenizer):
    """A freshly initialised masked-LM (`ModelArchConfig`) sized to `tokenizer` — for `pretrain`."""
    from transformers import AlbertConfig, AlbertForMaskedLM, BertConfig, BertForMaskedLM

    if arch.hidden % arch.heads:
        raise ModelError(
            f"hidden ({arch.hidden}) must be a multiple of heads ({arch.heads}).", "Change --hidden or --heads."
        )
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden,
        num_hidden_layers=arch.layers,
        num_attention_heads=arch.heads,
        intermediate_size=arch.intermediate or 4 * arch.hidden,
        max_position_embeddings=arch.max_positions,
        pad_token_id=tokenizer.pad_token_id or 0,
    )
    if arch.arch == "albert":
        config = AlbertConfig(embedding_size=arch.embedding_size, **common)
        return AlbertForMaskedLM(config)
    return BertForMaskedLM(BertConfig(**common))
