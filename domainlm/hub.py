"""`domainlm push`: a model folder to the Hugging Face Hub, through huggingface_hub's own calls.

What goes up is a list of names (`files_to_push`), not "the folder minus an ignore list": the
weights and config, the tokenizer, slots.json, the card, settings.json / versions.json / metrics.jsonl
and a resolved recipe; in `generator/` (ELECTRA) and `adapter/` (a LoRA run kept as a peft adapter)
the same kinds of files. So checkpoints, evaluation reports, caches, locks, the output marker, `.check`
runs and anything a person drops into the folder later are never published by accident.

Before any upload the card's metadata is brought up to date (`base_model`, `license`, the model-index
named after the repo) and checked by the hub's own validator; then `create_repo` (exist_ok),
`create_branch` for `--revision`, and one `create_commit` of those files. The records that name local
files (settings.json, the resolved recipe) go up with every absolute path shortened to `.../NAME`
(`shareable_record`): the folder on disk is not changed, and the Hub does not learn the layout and
user name of the machine the model was trained on. Offline, without a token, or
refused by the hub: a `HubError` saying which (naming `hf auth login` and `HF_TOKEN`), never a traceback.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from domainlm.errors import DomainLMError

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
MODEL_FILES = ("config.json", "generation_config.json") + WEIGHT_FILES
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "added_tokens.json",
    "spiece.model",
    "sentencepiece.bpe.model",
)
# What a peft adapter folder holds (domainlm/modeling/adapters.py writes it).
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "filled_rows.safetensors")
# The card and the records a user reads with the model (the card names them).
RECORD_FILES = (
    "README.md",
    "slots.json",
    "settings.json",
    "versions.json",
    "metrics.jsonl",
    "recipe.yaml",
    "recipe.resolved.yaml",
)
PUSHED = {
    "": MODEL_FILES + TOKENIZER_FILES + RECORD_FILES,
    "generator": MODEL_FILES + TOKENIZER_FILES,
    "adapter": ADAPTER_FILES + TOKENIZER_FILES + ("slots.json", "README.md"),
}

# Records written with the absolute paths of the machine that made them (inputs, base, data root).
PATH_RECORDS = ("settings.json", "recipe.resolved.yaml")
SHORTENED = ".../"  # what an absolute local path becomes on the Hub: .../NAME

LOGIN_HINT = (
    "Log in with `hf auth login`, or set HF_TOKEN to a token with write access "
    "(https://huggingface.co/settings/tokens), or pass --token."
)


class HubError(DomainLMError):
    """The model cannot be pushed: offline, no token, a bad repo id, or the hub refused it."""


@dataclass
class PushResult:
    repo_id: str
    files: list[str]
    revision: str | None = None
    url: str | None = None  # the repo's page (None for a dry run)
    commit_url: str | None = None
    dry_run: bool = False
    card: dict = field(default_factory=dict)  # what the pushed card's metadata says (base_model, license, results)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- what goes up


def _shards(folder: Path) -> list[str]:
    """The weight files a sharded checkpoint's index names (plain names inside `folder` only)."""
    names: list[str] = []
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        try:
            weight_map = json.loads((folder / index).read_text(encoding="utf-8")).get("weight_map", {})
        except (OSError, ValueError, AttributeError):
            continue
        names += [
            n
            for n in weight_map.values()
            if isinstance(n, str) and PurePosixPath(n).name == n and not n.startswith(".")
        ]
    return names


def files_to_push(model_dir: str | os.PathLike) -> list[str]:
    """The files of `model_dir` a user of the model needs, as paths relative to it (POSIX), in a fixed order."""
    root = Path(model_dir)
    out: dict[str, None] = {}
    for sub, names in PUSHED.items():
        folder = root / sub if sub else root
        for name in (*names, *_shards(folder)):
            if (folder / name).is_file():
                out[f"{sub}/{name}" if sub else name] = None
    return list(out)


def _has_weights(files: list[str]) -> bool:
    return any(PurePosixPath(f).name in WEIGHT_FILES + ("adapter_model.safetensors",) for f in files)


def check_model_folder(model_dir: str | os.PathLike) -> list[str]:
    """The files to push; HubError when `model_dir` is no model folder."""
    folder = Path(model_dir)
    if not folder.is_dir():
        raise HubError(
            f"'{folder}' is not a folder.",
            "Pass the output folder of `domainlm adapt` or `domainlm pretrain` (or a recipe run's model/).",
        )
    files = files_to_push(folder)
    if not _has_weights(files):
        raise HubError(
            f"'{folder}' holds no model weights (model.safetensors, pytorch_model.bin or "
            "adapter/adapter_model.safetensors).",
            "Pass the output folder of `domainlm adapt` or `domainlm pretrain` (or a recipe run's model/).",
        )
    return files


def check_repo_id(repo_id: str) -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise HubError(
            f"'{repo_id}' is not a hub repo id: {e}", "Use NAMESPACE/NAME, e.g. my-user/bert-kor-cosmetics."
        ) from None


def hub_token(token: str | None = None) -> str:
    """The token to push with; HubError offline or when there is none (before any network call)."""
    from huggingface_hub import constants, get_token

    # huggingface_hub reads HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE once, at import (is_offline_mode since 1.x).
    offline = getattr(constants, "is_offline_mode", lambda: constants.HF_HUB_OFFLINE)()
    if offline:
        raise HubError(
            "Cannot push: offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set).",
            "Unset HF_HUB_OFFLINE and TRANSFORMERS_OFFLINE on a machine that reaches huggingface.co. " + LOGIN_HINT,
        )
    token = token or get_token()
    if not token:
        raise HubError("Cannot push: no Hugging Face token (not logged in, and HF_TOKEN is not set).", LOGIN_HINT)
    return token


def check_can_push(repo_id: str, token: str | None = None) -> str:
    """What can be checked without the network, before hours of training: the repo id, offline mode, a token."""
    check_repo_id(repo_id)
    return hub_token(token)


# ---------------------------------------------------------------- the push


def _transport_errors() -> tuple[type[BaseException], ...]:
    """huggingface_hub's HTTP client's connection errors (httpx2 in huggingface_hub 2.x, httpx before)."""
    for name in ("httpx2", "httpx"):
        try:
            return (__import__(name).TransportError,)
        except (ImportError, AttributeError):
            continue
    return ()


def _http_error(e, repo_id: str) -> HubError:
    status = getattr(getattr(e, "response", None), "status_code", None)
    first = str(e).splitlines()[0] if str(e) else type(e).__name__
    if status == 401:
        return HubError(f"The Hugging Face Hub rejected the token (401 Unauthorized): {first}", LOGIN_HINT)
    if status == 403:
        return HubError(
            f"The token may not write to '{repo_id}' (403 Forbidden): {first}",
            "Use a token with write access to that user or organisation (`hf auth login`, or HF_TOKEN), "
            "or push to your own namespace.",
        )
    return HubError(
        f"The Hugging Face Hub refused the push to '{repo_id}' ({status or 'no status'}): {first}",
        "Check the repo id, the branch and your rights on the hub, then push again.",
    )


@contextmanager
def hub_errors(repo_id: str):
    """huggingface_hub's and its HTTP client's exceptions as HubErrors that say what to do."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        yield
    except OfflineModeIsEnabled:
        raise HubError(
            "Cannot push: offline mode is on (HF_HUB_OFFLINE is set).",
            "Unset HF_HUB_OFFLINE on a machine that reaches huggingface.co. " + LOGIN_HINT,
        ) from None
    except HfHubHTTPError as e:
        raise _http_error(e, repo_id) from None
    except _transport_errors() as e:
        raise HubError(
            f"Cannot reach the Hugging Face Hub: {e}.",
            "Check the network (or HTTPS_PROXY), or copy the model folder to a machine that reaches "
            "huggingface.co and push from there.",
        ) from None


def validate_card(text: str) -> None:
    """The hub's own check of the card's metadata (huggingface_hub `ModelCard.validate`, online)."""
    from huggingface_hub import ModelCard

    try:
        ModelCard(text).validate()
    except ValueError as e:
        raise HubError(
            f"The Hugging Face Hub refused the model card's metadata: {e}",
            "Fix the front matter of README.md (the YAML between the --- lines), then push again.",
        ) from None


def card_facts(text: str) -> tuple[dict, list[str]]:
    """What the card's metadata says that a person pushing it should know, and what it lacks."""
    from domainlm.card import parse_card

    data = parse_card(text).data
    facts = {"base_model": data.base_model, "license": data.license, "results": len(data.eval_results or [])}
    out = []
    if not data.license:
        out.append(
            "The card names no license: the hub will show none. Add `license: …` (e.g. apache-2.0, the "
            "base model's) to the front matter of README.md."
        )
    if not data.eval_results:
        out.append(
            "The card carries no results: run `domainlm evaluate --before BASE --after MODEL_DIR …` first "
            "to put MW-BPC before and after into it."
        )
    return facts, out


def push_model(
    model_dir: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    commit_message: str | None = None,
    dry_run: bool = False,
) -> PushResult:
    """Upload the files of `model_dir` a user needs (`files_to_push`) to the hub model repo `repo_id`.

    The repo is created if missing (`private` then applies; an existing repo keeps its visibility),
    `revision` names a branch (created if missing). The card's metadata is refreshed in place first
    (see `domainlm.card.refresh_card_metadata`). `dry_run`: check and list, change and
    upload nothing, without a network or a token."""
    from domainlm.card import refresh_card_metadata

    folder = Path(model_dir)
    files = check_model_folder(folder)
    check_repo_id(repo_id)
    if dry_run:
        card = refresh_card_metadata(folder, model_name=repo_id.split("/")[-1], write=False)
        facts, warnings = card_facts(card)
        return PushResult(repo_id, files, revision, dry_run=True, card=facts, warnings=warnings)
    token = hub_token(token)
    card = refresh_card_metadata(folder, model_name=repo_id.split("/")[-1])
    files = files_to_push(folder)  # README.md may be new
    return _upload(
        folder,
        repo_id,
        files,
        card,
        private=private,
        revision=revision,
        token=token,
        commit_message=commit_message or f"Upload {folder.resolve().name} with domainlm",
    )


def _is_local_absolute(value: str) -> bool:
    return value.startswith(("/", "~", "\\\\")) or (len(value) > 2 and value[1] == ":" and value[2] in "\\/")


def _shortened(value):
    """`value` with every absolute local path (in strings, lists and mappings) reduced to `.../NAME`."""
    if isinstance(value, str) and _is_local_absolute(value):
        name = value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        return SHORTENED + name
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value


def shareable_record(path: Path) -> bytes:
    """A record of `PATH_RECORDS` as it goes to the Hub: its absolute local paths shortened to `.../NAME`
    (the YAML's comments, which name the data root, are dropped)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return (json.dumps(_shortened(json.loads(text)), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    import yaml

    from domainlm.io import load_yaml

    note = f"# Paths on the machine this model was trained on are shortened to {SHORTENED}NAME.\n"
    body = yaml.safe_dump(_shortened(load_yaml(text)), allow_unicode=True, sort_keys=False)
    return (note + body).encode("utf-8")


def _commit_operations(folder: Path, files: list[str]) -> list:
    """One `CommitOperationAdd` per file; the path records from their shareable form, the rest from disk."""
    from huggingface_hub import CommitOperationAdd

    return [
        CommitOperationAdd(
            path_in_repo=name,
            path_or_fileobj=shareable_record(folder / name)
            if PurePosixPath(name).name in PATH_RECORDS
            else str(folder / name),
        )
        for name in files
    ]


def _upload(
    folder: Path,
    repo_id: str,
    files: list[str],
    card: str,
    *,
    private: bool,
    revision: str | None,
    token: str,
    commit_message: str,
) -> PushResult:
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    with hub_errors(repo_id):
        validate_card(card)  # before create_repo: a card the hub refuses leaves no empty repo behind
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type="model")
        try:
            commit = api.create_commit(
                repo_id,
                _commit_operations(folder, files),
                commit_message=commit_message,
                repo_type="model",
                revision=revision,
            )
        except ValueError as e:  # the commit validates README.md's metadata again
            raise HubError(
                f"The Hugging Face Hub refused the upload to '{repo_id}': {e}",
                "Fix the front matter of README.md, then push again.",
            ) from None
    facts, warnings = card_facts(card)
    return PushResult(
        repo_id,
        files,
        revision,
        url=str(url),
        commit_url=getattr(commit, "commit_url", None),
        card=facts,
        warnings=warnings,
    )
