"""What goes beside the trained weights: settings, library versions, metrics and a model card."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in ("domainlm", "torch", "transformers", "tokenizers", "peft", "accelerate"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def model_card(*, kind: str, base: str | None, category: str | None, settings: dict, outcome, slots: list,
               eval_before: float | None, versions: dict, arch: dict | None = None) -> str:
    """A README.md that says what was done, with which data and settings, and how it went."""
    train = settings.get("train", {})
    title = f"{category} domain-adapted {Path(base).name if base else 'model'}" if kind == "adapt" else "Pretrained masked-LM"
    lines = [f"# {title}", "", "Produced by domainlm (continued pretraining of a Korean encoder on one product category).", ""]
    lines += ["## What was done", ""]
    if kind == "adapt":
        lines.append(f"- Base model: `{base}`" + (f"; category: **{category}**" if category else ""))
        if slots:
            examples = ", ".join(f"`{s.term}`" for s in slots[:12])
            lines.append(f"- {len(slots):,} `[unusedN]` vocabulary slots filled with mined terms ({examples}"
                         f"{', …' if len(slots) > 12 else ''}); see `slots.json`.")
            lines.append(f"- Filled rows initialised by **{train.get('init')}**"
                         + (" (mean of the embeddings and decoder bias of the base pieces each term replaces)"
                            if train.get("init") == "mean" else "") + ".")
        else:
            lines.append("- No vocabulary slot was filled (continued pretraining only).")
    else:
        lines.append(f"- Fresh {arch.get('arch', 'bert').upper() if arch else 'BERT'} model trained from scratch: "
                     + ", ".join(f"{k} {v}" for k, v in (arch or {}).items() if k != "arch"))
    mode = train.get("mode")
    if mode == "phased":
        phases = "; ".join(f"{p['mode']} for {p['steps']} steps" for p in train.get("phases", []))
        lines.append(f"- Continued masked-LM training in phases: {phases}.")
    else:
        lines.append(f"- Masked-LM training, mode **{mode}**, {outcome.steps:,} optimizer steps.")
    lines.append(f"- Whole-word (eojeol) masking of {train.get('mlm_probability')} of the eojeols, packed sequences of "
                 f"{train.get('seq_len')} tokens, batch {train.get('batch_size')} × {train.get('grad_accum')} accumulation, "
                 f"peak lr {train.get('lr')}, replay of general text {train.get('replay_ratio')}.")
    lines.append(f"- Corpus: {', '.join(map(str, settings.get('corpus', [])))}"
                 + (f"; replay: {', '.join(map(str, settings.get('replay', [])))}" if settings.get("replay") else "")
                 + f"; {train.get('heldout_fraction')} of the documents held out by hash.")
    lines += ["", "## Results", "", "| what | value |", "|---|---|",
              f"| tokens trained | {_fmt(outcome.tokens)} |",
              f"| final training loss | {_fmt(outcome.final_loss)} |",
              f"| held-out masked-LM loss before | {_fmt(eval_before)} |",
              f"| held-out masked-LM loss after | {_fmt(outcome.eval_loss)} |",
              f"| training time (s) | {_fmt(outcome.seconds, 1)} |", ""]
    lines += ["Token losses of different vocabularies are not comparable; `domainlm evaluate` measures "
              "masked-word bits per character and downstream probes before and after.", ""]
    lines += ["## Use", "", "```python", "from transformers import AutoModelForMaskedLM, AutoTokenizer",
              "model = AutoModelForMaskedLM.from_pretrained('PATH')", "tokenizer = AutoTokenizer.from_pretrained('PATH')",
              "```", "", "Files: `settings.json` (all settings), `versions.json` (library versions), "
              "`metrics.jsonl` (one record per log step), `slots.json` (filled slots).", "",
              "Libraries: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v), ""]
    return "\n".join(lines)
