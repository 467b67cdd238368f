"""Where an adapted model comes from: the hub model (`base_model`) and `license` its card should carry.

The hub wants `base_model` to be a hub id, so a local base is traced back: a folder of the hub cache
(`models--ORG--NAME/snapshots/…`) is that hub model; a base made by `domainlm pretrain` has no hub
ancestor (the card says so); a base made by `domainlm adapt` is traced through its own settings.json
to the nearest hub model. The license is the nearest one found on the way (a base's own card).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

MAX_DEPTH = 5  # adapt-of-adapt chains deeper than this are not followed (a loop of folders ends here too)


@dataclass
class Lineage:
    """What a card can say about its base: `known` is False when the base folder is not here any more
    (then the card keeps what it already says)."""

    base_model: str | None = None
    license: str | None = None
    lines: list[str] = field(default_factory=list)  # markdown list items, nested ones indented
    known: bool = True


def read_settings(folder: str | Path) -> dict:
    """A domainlm output's settings.json ({} for any other folder, or a file that is not JSON)."""
    path = Path(folder) / "settings.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def snapshot_hub_id(folder: str | Path) -> str | None:
    """The hub id of a folder inside the Hugging Face cache (`…/models--ORG--NAME/snapshots/SHA`)."""
    parts = Path(folder).expanduser().resolve().parts
    for i, part in enumerate(parts[:-2]):
        if part.startswith("models--") and parts[i + 1] == "snapshots":
            # The cache writes "/" as "--"; hub ids may not contain "--", so the split is exact.
            return "/".join(part.split("--")[1:])
    return None


def model_lineage(model_dir: str | Path) -> Lineage | None:
    """The lineage of an output of `domainlm adapt`; None for anything else (a pretrained model has no base)."""
    settings = read_settings(model_dir)
    if settings.get("command") != "adapt" or not settings.get("base"):
        return None
    return trace_base(str(settings["base"]))


def trace_base(base: str, depth: int = 0) -> Lineage:
    from domainlm.training.card import base_license, hub_id, shown_source

    shown, folder = shown_source(base), Path(base).expanduser()
    hub = hub_id(base) or (snapshot_hub_id(folder) if folder.is_dir() else None)
    if hub:
        return Lineage(
            hub, base_license(base), [f"- Base model: `{hub}` on the Hugging Face Hub (`base_model` above)."]
        )
    if not folder.is_dir():
        return Lineage(
            lines=[f"- Base model: `{shown}`, a local folder that is not on this machine any more."], known=False
        )
    own = read_settings(base)
    license = base_license(base)
    if own.get("command") == "pretrain":
        return Lineage(
            None,
            license,
            [
                f"- Base model: `{shown}`, pretrained from scratch by `domainlm pretrain` "
                "(not on the Hub, so this card names no `base_model`)."
            ],
        )
    if own.get("command") == "adapt" and own.get("base") and depth < MAX_DEPTH:
        parent = trace_base(str(own["base"]), depth + 1)
        return Lineage(
            parent.base_model,
            license or parent.license,
            [f"- Base model: `{shown}`, itself adapted by `domainlm adapt` from:"]
            + [f"  {line}" for line in parent.lines],
            parent.known,
        )
    return Lineage(
        None,
        license,
        [
            f"- Base model: `{shown}`, a local folder of unknown origin: if it is a hub model, "
            "put its id as `base_model` (and its `license`) in this card's front matter."
        ],
    )
