"""Write a trained model directory in one atomic step, and never lose a finished training to it.

`check_model_output` runs at the start of `adapt` / `pretrain`: a folder holding anything that is
not an earlier output of the same command is refused before hours of training (`force` replaces
it). `write_model_dir` builds the model folder beside the target and swaps it in only once it is
complete. `write_or_keep_checkpoint` wraps it: when the model cannot be written (full disk, no
permission, someone's files appeared in the folder meanwhile), the trained state is kept as a
checkpoint and the message says where it is and how `--resume` writes the model from it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from domainlm.errors import OutputError, TrainingError
from domainlm.io import atomic_directory, check_output_dir, follow_umask
from domainlm.runtime import is_main_process
from vocab_tools.atomic import MARKER_NAME, check_not_an_input, output_lock, write_failure

TOKENIZER_FILES = {
    "tokenizer.json",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
}


class ModelWriteError(TrainingError, OutputError):
    """The model folder could not be written. Both a TrainingError (training's family) and an
    OutputError, so `atomic_directory` passes it through with its own wording."""


def _earlier_output_without_marker(path: Path, command: str) -> bool:
    """A model folder this command wrote before output markers existed (its settings.json says so)."""
    if (path / MARKER_NAME).exists() or not (path / "config.json").is_file():
        return False
    try:
        settings = json.loads((path / "settings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(settings, dict) and settings.get("command") == command


def holding_output_lock(fn: Callable) -> Callable:
    """Run `fn` holding the lock of its `out_dir` argument from start to end (B26: a second `adapt`
    into the same folder started 12 s later shared the checkpoints and replaced the first's model).

    Where the lock cannot be taken because the folder's parent cannot be written, `fn` runs and its
    own output check says so in words.
    """
    import functools
    import inspect

    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not is_main_process():  # under torchrun only rank 0 writes; the others would find its lock taken
            return fn(*args, **kwargs)
        out_dir = Path(signature.bind(*args, **kwargs).arguments["out_dir"])
        try:
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            lock = output_lock(out_dir)
            lock.__enter__()
        except OSError:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        finally:
            lock.__exit__(None, None, None)

    return wrapper


def check_model_output(out_dir: Path, command: str, force: bool = False, inputs=()) -> bool:
    """Refuse `out_dir` up front unless it may receive `command`'s model; return the `force` to write with.

    Never an input (D3: `adapt --base M -o M` replaced its own base), whatever `force` says. Also
    refuses a folder whose parent cannot be written: checkpoints and the model both go there, and
    finding out after the training is too late.
    """
    out_dir = Path(out_dir)
    check_not_an_input(out_dir, inputs, "output folder")
    if not force and out_dir.is_dir() and _earlier_output_without_marker(out_dir, command):
        force = True
    check_output_dir(out_dir, command, force)
    parent = out_dir.parent
    existing = parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing.exists() and (not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK)):
        reason = "is a file" if not existing.is_dir() else "is not writable (permission denied)"
        raise OutputError(
            f"Cannot write the output '{out_dir}': '{existing}' {reason}.",
            "Choose an output folder on a writable disk with -o / --output, or fix the permissions.",
        )
    return force


def write_model_dir(
    out_dir: Path,
    *,
    model,
    tokenizer,
    settings: dict,
    versions: dict,
    metrics: list[dict],
    card: str,
    slots_json: Path | None = None,
    tokenizer_dir: Path | None = None,
    command: str | None = None,
    force: bool = False,
    kept_tensors: dict | None = None,
    generator=None,
    save: str = "merged",
    adapter=None,
    base_name: str | None = None,
) -> Path:
    """HF model + tokenizer, slots.json, settings.json, versions.json, metrics.jsonl, README.md.

    All files go to a temporary sibling first and replace `out_dir` in one rename: a kill or a full
    disk leaves the previous `out_dir` (or none) and no half model. With `command`, the folder must
    be empty, absent or an earlier output of that command (or `force`). `kept_tensors` (tensors of
    the base the training did not touch, e.g. BERT's pooler) are saved beside the model's own.
    `generator` (ELECTRA's, beside a discriminator) goes to `generator/` with a copy of the
    tokenizer, so it loads on its own. `save` `adapter` / `both` write `adapter` (a
    `domainlm.modeling.adapters.LoraAdapter`, its base named `base_name`) to `adapter/` with a copy of
    the tokenizer; `adapter` leaves the merged weights out. Write failures raise `ModelWriteError`.
    """
    from domainlm.modeling.loading import quiet_transformers

    out_dir = Path(out_dir)
    with atomic_directory(out_dir, command=command, force=force) as tmp, quiet_transformers():
        try:
            _write_files(
                tmp,
                model=model,
                tokenizer=tokenizer,
                settings=settings,
                versions=versions,
                metrics=metrics,
                card=card,
                slots_json=slots_json,
                tokenizer_dir=tokenizer_dir,
                kept_tensors=kept_tensors,
                merged=save != "adapter",
            )
            if save != "merged":
                _write_adapter(tmp, adapter, base_name)
            if generator is not None:
                _write_generator(tmp, generator)
        except Exception as e:
            reason = write_failure(e)
            if reason is None:
                raise
            if isinstance(e, OSError) and e.errno == errno.ENOSPC or reason.startswith("no space"):
                message = (
                    f"No space left on the device while writing the model to '{out_dir}'. "
                    "Nothing half-written was left: the previous output, if any, is intact."
                )
            else:
                message = (
                    f"Cannot write the model to '{out_dir}': {reason}. Nothing half-written was left: the "
                    "previous output, if any, is intact."
                )
            raise ModelWriteError(
                message,
                "Free disk space or fix the permissions (or choose another output folder), "
                "then rerun the same command with --resume.",
            ) from None
    return out_dir


def _write_files(
    tmp: Path,
    *,
    model,
    tokenizer,
    settings,
    versions,
    metrics,
    card,
    slots_json,
    tokenizer_dir,
    kept_tensors,
    merged: bool = True,
) -> None:
    if merged:  # else adapter only: the weights are the base's plus adapter/
        _write_weights(tmp, model, kept_tensors)
    if tokenizer_dir is not None and (Path(tokenizer_dir) / "tokenizer.json").exists():
        # Copy the tokenizer files as they are (vocab.txt and tokenizer.json kept in step, as
        # vocab_tools wrote them) rather than re-serialising them. copyfile, not copy: the new files
        # get the umask's mode, not the 0600 of a temporary source.
        for f in Path(tokenizer_dir).iterdir():
            if f.is_file() and f.name in TOKENIZER_FILES:
                shutil.copyfile(f, tmp / f.name)
    else:
        tokenizer.save_pretrained(str(tmp))
    limit_tokenizer_to_model(tmp, model.config)
    if slots_json is not None and Path(slots_json).exists():
        shutil.copyfile(slots_json, tmp / "slots.json")
    else:
        (tmp / "slots.json").write_text(json.dumps({"format": 1, "slots": []}, indent=1) + "\n", encoding="utf-8")
    (tmp / "settings.json").write_text(
        json.dumps(settings, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (tmp / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    (tmp / "metrics.jsonl").write_text(
        "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in metrics), encoding="utf-8"
    )
    (tmp / "README.md").write_text(card, encoding="utf-8")
    # safetensors writes model.safetensors as 0600 whatever the umask: give every file the mode a
    # plain `open` would, so a shared model folder is readable as the user's umask intends.
    for path in tmp.rglob("*"):
        follow_umask(path, directory=path.is_dir())


def _write_weights(tmp: Path, model, kept_tensors: dict | None) -> None:
    if kept_tensors:
        state = model.state_dict()
        state.update({k: v for k, v in kept_tensors.items() if k not in state})
        model.save_pretrained(str(tmp), state_dict=state)
    else:
        model.save_pretrained(str(tmp))


def model_max_length(config) -> int | None:
    """The most tokens the model takes: its position embeddings (BERT, ALBERT, ELECTRA)."""
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def limit_tokenizer_to_model(folder: Path, config) -> None:
    """Make the tokenizer_config.json in `folder` say the model's real limit.

    A tokenizer built without a model (`vocab build`) or copied from a bigger base says 512 while a
    small model has 128 positions: `truncation=True` then cuts at 512 and the model (and the
    fill-mask pipeline) fails on a long text. A smaller limit the tokenizer already has is kept.
    """
    limit = model_max_length(config)
    path = Path(folder) / "tokenizer_config.json"
    if limit is None or not path.is_file():
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    current = data.get("model_max_length")
    if isinstance(current, (int, float)) and 0 < current <= limit:
        return
    data["model_max_length"] = limit
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_adapter(tmp: Path, adapter, base_name: str | None) -> None:
    """adapter/: the peft adapter, the rows it needs in the base, and the tokenizer, loadable on its own."""
    from domainlm.modeling.adapters import ADAPTER_FOLDER, copy_beside_adapter, write_adapter

    write_adapter(adapter, tmp / ADAPTER_FOLDER, base_name)
    copy_beside_adapter(tmp, sorted(TOKENIZER_FILES) + ["slots.json"])
    for path in (tmp / ADAPTER_FOLDER).rglob("*"):
        follow_umask(path, directory=path.is_dir())
    follow_umask(tmp / ADAPTER_FOLDER, directory=True)


def _write_generator(tmp: Path, generator) -> None:
    folder = tmp / "generator"
    generator.save_pretrained(str(folder))
    for f in tmp.iterdir():
        if f.is_file() and f.name in TOKENIZER_FILES:
            shutil.copyfile(f, folder / f.name)
    for path in folder.rglob("*"):
        follow_umask(path, directory=path.is_dir())
    follow_umask(folder, directory=True)


def write_or_keep_checkpoint(write: Callable[[], Path], outcome, *, ckpt_dir: Path, command: str) -> Path:
    """Run `write()`; if the model cannot be written, keep the trained state as a checkpoint and say so.

    The final checkpoint holds the trained weights and the metrics, so `--resume` writes the model
    from it without training again. When even that cannot be written (the disk is full), the
    message names the last periodic checkpoint instead.
    """
    try:
        return write()
    except OutputError as e:
        kept = outcome.keep_final_checkpoint() if outcome is not None else None
        from domainlm.training.checkpoint import latest_checkpoint

        resume = f"rerun the same `domainlm {command}` command with --resume"
        if kept is not None:
            where = f"The trained model was kept as a checkpoint (step {outcome.steps}) in '{kept}'."
            how = f"then {resume}: it writes the model from that checkpoint without training again."
        elif (last := latest_checkpoint(ckpt_dir)) is not None:
            step = int(last.name.split("-")[-1])
            where = (
                f"The trained model could not be kept either; the last checkpoint is step {step} of "
                f"{outcome.steps} in '{last}'."
            )
            how = f"then {resume}: it continues from step {step}."
        else:
            with contextlib.suppress(OSError):
                ckpt_dir.rmdir()  # left empty by the failed attempt
            where = "No checkpoint could be written either, so this training has to be run again."
            how = "then run the same command again."
        if "--force" in (e.hint or ""):  # files appeared in the output folder during the training
            first = "Move those files out of the way, or add --force to replace them"
        elif "Another domainlm run" in e.message:
            first = "Wait for that run to finish (or stop it)"
        else:
            first = "Free space on that disk or fix its permissions"
        raise ModelWriteError(f"{e.message} {where}", f"{first}; {how}") from None
