"""What goes beside the trained weights: settings, library versions, metrics and a model card.

The card is a `huggingface_hub.ModelCard`: YAML front matter the hub reads (language, base_model,
license, tags, datasets, pipeline_tag, library_name), then what was done and how it went. It names
files and folders, never absolute local paths (they mean nothing on another machine and leak the
author's directory layout), and its usage snippet runs as written from the folder above the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def hub_id(name: str | None) -> str | None:
    """`name` when it is a hub model id (not a local folder or path), else None."""
    if not name or Path(name).expanduser().exists():
        return None
    from domainlm.modeling.loading import looks_like_path

    return None if looks_like_path(name) else name


def shown_source(name) -> str:
    """A hub id as it is; a local path by its last part (no absolute paths in a card)."""
    text = str(name)
    if text.startswith("hf:") or hub_id(text):
        return text
    return Path(text).name or text


def base_license(base: str | None) -> str | None:
    """The license in the base model's own card (a local folder's README.md or the hub cache's)."""
    if not base:
        return None
    path = Path(base).expanduser() / "README.md"
    if not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(base, "README.md") if hub_id(base) else None
        except Exception:
            found = None
        if not isinstance(found, str):
            return None
        path = Path(found)
    try:
        from huggingface_hub import ModelCard

        value = ModelCard.load(path).data.to_dict().get("license")
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _datasets(corpora) -> list[str] | None:
    names = [str(c)[3:] for c in corpora if str(c).startswith("hf:")]
    return sorted(set(names)) or None


def _example_sentence(slots: list, mask: str) -> str:
    words = [
        s.term
        for s in slots
        if not s.term.startswith("##")
        and getattr(s, "kind", "word") != "continuation"
        and '"' not in s.term
        and "\\" not in s.term
    ]
    return f"{words[0]} {mask} 정말 좋아요" if words else f"이 제품 {mask} 정말 좋아요"


def usage_snippet(folder_name: str, example: str) -> str:
    """Python that loads the model from the folder above it and fills a mask (runs as written)."""
    return "\n".join(
        [
            "from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline",
            "",
            f"model_dir = {folder_name!r}  # this folder (or its hub id once uploaded)",
            "tokenizer = AutoTokenizer.from_pretrained(model_dir)",
            "model = AutoModelForMaskedLM.from_pretrained(model_dir)",
            'fill = pipeline("fill-mask", model=model, tokenizer=tokenizer)',
            f'for guess in fill("{example}")[:3]:',
            '    print(guess["token_str"], round(guess["score"], 3))',
        ]
    )


def discriminator_snippet(folder_name: str) -> str:
    """Python that loads an ELECTRA discriminator from the folder above it and shows which tokens it flags."""
    return "\n".join(
        [
            "import torch",
            "from transformers import AutoTokenizer, ElectraForPreTraining",
            "",
            f"model_dir = {folder_name!r}  # this folder (or its hub id once uploaded)",
            "tokenizer = AutoTokenizer.from_pretrained(model_dir)",
            "model = ElectraForPreTraining.from_pretrained(model_dir)  # ElectraForSequenceClassification to fine-tune",
            'batch = tokenizer("이 크림 발림성 정말 좋아요", return_tensors="pt")',
            "with torch.no_grad():",
            "    replaced = torch.sigmoid(model(**batch).logits)[0]",
            'for token, p in zip(tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), replaced.tolist()):',
            "    print(token, round(p, 3))",
        ]
    )


def lora_line(train: dict, save: str | None) -> str:
    """How the LoRA run was kept: merged into the weights, as a peft adapter in adapter/, or both."""
    lora = train.get("lora") or {}
    targets = ", ".join(f"`{t}`" for t in lora.get("target_modules", []))
    where = {
        "adapter": "kept as a peft adapter in `adapter/` only (no merged weights here)",
        "both": "merged into this folder's weights, and kept as a peft adapter in `adapter/`",
    }.get(save or "", "merged into this folder's weights (no adapter kept)")
    return f"- LoRA r {lora.get('r')}, alpha {lora.get('alpha')} on {targets}: {where}."


def adapter_snippet(folder_name: str, base: str, model_class: str = "AutoModelForMaskedLM") -> str:
    """Python that loads the adapter on its filled base (the filled rows' decoder bias is not in peft's files)."""
    return "\n".join(
        [
            "from peft import PeftModel",
            f"from transformers import {model_class}, AutoTokenizer",
            "from domainlm.modeling.adapters import fill_base",
            "",
            f"adapter_dir = {folder_name + '/adapter'!r}",
            "tokenizer = AutoTokenizer.from_pretrained(adapter_dir)",
            f"base = {model_class}.from_pretrained({base!r})  # base_model_name_or_path in adapter_config.json",
            "fill_base(base, adapter_dir)  # grow to the filled vocabulary, write filled_rows.safetensors in",
            "model = PeftModel.from_pretrained(base, adapter_dir)",
        ]
    )


def batch_line(settings: dict) -> str:
    """The batch a step saw: per process, accumulated, over every process (torchrun runs N of them)."""
    train = settings.get("train", {})
    world = settings.get("world_size") or 1
    batch, accum = train.get("batch_size"), train.get("grad_accum")
    effective = settings.get("effective_batch") or (batch or 0) * (accum or 1) * world
    line = f"batch {batch} × {accum} accumulation"
    if world > 1:
        line += f" × {world} processes"
    line += f" = {effective:,} sequences per step"
    precision = settings.get("precision_used")
    return line + (f", {'bf16 autocast' if precision == 'bf16' else 'fp32'}" if precision else "")


def model_card(
    *,
    kind: str,
    base: str | None,
    category: str | None,
    settings: dict,
    outcome,
    slots: list,
    eval_before: float | None,
    versions: dict,
    arch: dict | None = None,
    folder_name: str = "model",
    license: str | None = None,
    mask_token: str = "[MASK]",
    electra: bool = False,
) -> str:
    """A README.md (hub model card) that says what was done, with which data and settings, and how it went.

    `electra`: the model is an ELECTRA discriminator trained by replaced-token detection (its
    generator is in `generator/`)."""
    from huggingface_hub import ModelCard

    card = _Card(
        kind, base, category, settings, outcome, slots, eval_before, versions, arch, folder_name, mask_token, electra
    )
    lines = [*_heading(card), *_what_was_done(card), *_results(card), *_use(card)]
    return str(ModelCard(f"---\n{_card_data(card, license).to_yaml()}\n---\n\n" + "\n".join(lines)))


@dataclass
class _Card:
    """What a model card is written from (see `model_card`)."""

    kind: str  # adapt or pretrain
    base: str | None
    category: str | None
    settings: dict
    outcome: Any
    slots: list
    eval_before: float | None
    versions: dict
    arch: dict | None
    folder_name: str
    mask_token: str
    electra: bool

    @property
    def adapt(self) -> bool:
        return self.kind == "adapt"

    @property
    def train(self) -> dict:
        return self.settings.get("train", {})

    @property
    def objective(self) -> str:
        return "replaced-token detection" if self.electra else "masked-LM"

    @property
    def base_shown(self) -> str | None:
        return shown_source(self.base) if self.base else None


def _card_data(card: _Card, license: str | None):
    """The YAML front matter the hub reads."""
    from huggingface_hub import ModelCardData

    corpora = list(card.settings.get("corpus", [])) + list(card.settings.get("replay", []) or [])
    tags = ["domainlm", "korean"] + (["electra", "replaced-token-detection"] if card.electra else ["fill-mask"])
    tags += (
        ["domain-adaptation"] + ([card.category] if card.category else [])
        if card.adapt
        else ["pretraining", (card.arch or {}).get("arch", "bert")]
    )
    return ModelCardData(
        language="ko",
        license=license or (base_license(card.base) if card.adapt else None),
        base_model=hub_id(card.base) if card.adapt else None,
        tags=sorted(set(tags), key=tags.index),
        datasets=_datasets(corpora),
        pipeline_tag=None if card.electra else "fill-mask",
        library_name="transformers",
    )


def _heading(card: _Card) -> list[str]:
    if card.adapt and card.category:
        title = f"{card.category} domain-adapted {card.base_shown or 'model'}"
    elif card.adapt:
        title = f"Domain-adapted {card.base_shown}"
    else:
        title = "Pretrained ELECTRA discriminator" if card.electra else "Pretrained masked-LM"
    return [
        f"# {title}",
        "",
        "Produced by domainlm (continued pretraining of a Korean encoder on one product category)."
        if card.adapt
        else f"Produced by domainlm ({card.objective} pretraining of a small Korean encoder).",
        "",
    ]


def _what_was_done(card: _Card) -> list[str]:
    lines = ["## What was done", ""]
    if card.adapt:
        lines += _adapted_from(card)
    else:
        arch = card.arch
        lines.append(
            f"- Fresh {arch.get('arch', 'bert').upper() if arch else 'BERT'} model trained from scratch: "
            + ", ".join(f"{k} {v}" for k, v in (arch or {}).items() if k != "arch")
        )
    return lines + _training(card)


def _adapted_from(card: _Card) -> list[str]:
    """The base, the filled slots and how their rows started, what the base kept."""
    settings, slots = card.settings, card.slots
    lines = [
        f"- Base model: `{card.base_shown}`"
        + ("" if hub_id(card.base) else " (a local folder)")
        + (f"; category: **{card.category}**" if card.category else "")
    ]
    if settings.get("new_head"):
        lines.append("- The base had no masked-LM head weights: a new head was trained from scratch (--new-head).")
    if slots:
        examples = ", ".join(f"`{s.term}`" for s in slots[:12])
        lines.append(
            f"- {len(slots):,} `[unusedN]` vocabulary slots filled with mined terms ({examples}"
            f"{', …' if len(slots) > 12 else ''}); see `slots.json`."
        )
        lines.append(_init_line(card.train.get("init")))
    else:
        lines.append("- No vocabulary slot was filled (continued pretraining only).")
    if settings.get("appended_rows"):
        own = len(slots) - settings["appended_rows"]
        lines.append(
            f"- {own:,} terms sit in the base's own `[unusedN]` slots and {settings['appended_rows']:,} in rows "
            f"appended by `--resize` (ids from {settings['base_rows']:,}): the vocabulary and embedding "
            "matrix grew by that many rows."
        )
    for message in (settings.get("slot_plan") or {}).get("messages", []):
        lines.append(f"- Slot budget: {message}.")
    if settings.get("kept_tensors"):
        lines.append(
            f"- Kept unchanged from the base: {', '.join(f'`{k}`' for k in settings['kept_tensors'][:6])}"
            f"{' …' if len(settings['kept_tensors']) > 6 else ''} (tensors the masked-LM class does not "
            "use, such as the pooler, so fine-tuning starts from the base's)."
        )
    return lines


def _init_line(init: str | None) -> str:
    """How the filled rows started: the method's name and the line its registration gives."""
    from domainlm.modeling.init_methods import ROW_INITS

    method = ROW_INITS.lookup(init) if init else None
    return (
        f"- Filled rows initialised by **{init}**"
        + (f" ({method.description})" if method and method.description else "")
        + "."
    )


def _training(card: _Card) -> list[str]:
    """The mode and its steps, LoRA and ELECTRA settings, masking and batch, the corpora."""
    train, settings, objective = card.train, card.settings, card.objective
    mode = train.get("mode")
    if mode == "phased":
        phases = "; ".join(f"{p['mode']} for {p['steps']} steps" for p in train.get("phases", []))
        lines = [f"- Continued {objective} training in phases: {phases}."]
    else:
        shown = objective[0].upper() + objective[1:]
        lines = [f"- {shown} training, mode **{mode}**, {card.outcome.steps:,} optimizer steps."]
    if card.adapt and "lora" in (mode, *(p.get("mode") for p in train.get("phases", []))):
        lines.append(lora_line(train, settings.get("save")))
    if card.electra:
        lines.append(_electra_line(train.get("electra", {}), settings))
    # train.masking null is resolved by the run: whole-word when adapting, token when pretraining from scratch.
    masking = train.get("masking") or ("whole-word" if card.adapt else "token")
    unit = (
        "Whole-word (eojeol) masking of {} of the eojeols"
        if masking == "whole-word"
        else "Token masking of {} of the tokens"
    )
    rows_lr = _rows_lr_note(train, bool(card.slots))
    lines.append(
        f"- {unit.format(train.get('mlm_probability'))}, packed sequences of "
        f"{train.get('seq_len')} tokens, {batch_line(settings)}, "
        f"peak lr {train.get('lr')}{rows_lr}, replay of general text {train.get('replay_ratio')}."
    )
    lines.append(
        f"- Corpus: {', '.join(shown_source(c) for c in settings.get('corpus', []))}"
        + (f"; replay: {', '.join(shown_source(c) for c in settings['replay'])}" if settings.get("replay") else "")
        + f"; {train.get('heldout_fraction')} of the documents held out by hash."
    )
    return lines


def _rows_lr_note(train: dict, filled: bool) -> str:
    """The filled rows' own peak learning rate, in each phase where it differed from the phase's."""
    from domainlm.training.config import NEW_ROWS_LR_FACTOR, filled_rows_lr

    setting = train.get("new_rows_lr")
    if not filled or setting is None:
        return ""
    lr = float(train.get("lr") or 0)
    phased = train.get("mode") == "phased"
    phases = train.get("phases", []) if phased else [{"mode": train.get("mode")}]
    rates = []
    for phase in phases:
        phase_lr = float(phase.get("lr") or lr)
        rate = filled_rows_lr(setting, str(phase.get("mode")), phase_lr)
        if rate != phase_lr:
            rates.append(f"{rate:g}" + (f" in the {phase.get('mode')} phase" if phased else ""))
    how = f", {NEW_ROWS_LR_FACTOR:g}x: new_rows_lr auto" if setting == "auto" else ""
    return f" (the filled rows: {'; '.join(rates)}{how})" if rates else ""


def _electra_line(e: dict, settings: dict) -> str:
    return (
        f"- ELECTRA: generator (in `generator/`, {settings.get('generator', 'built here')}) and "
        f"discriminator share their embeddings; loss = {e.get('generator_weight')} × generator MLM + "
        f"{e.get('discriminator_weight')} × discriminator BCE; replacements sampled from the generator's softmax"
        + (
            f"; the generator trained alone for its first {settings['generator_warmup_steps']} steps"
            if settings.get("generator_warmup_steps")
            else ""
        )
        + "."
    )


def _results(card: _Card) -> list[str]:
    outcome, objective = card.outcome, card.objective
    return [
        "",
        "## Results",
        "",
        "| what | value |",
        "|---|---|",
        f"| tokens trained | {_fmt(outcome.tokens)} |",
        f"| final training loss | {_fmt(outcome.final_loss)} |",
        f"| held-out {objective} loss before | {_fmt(card.eval_before)} |",
        f"| held-out {objective} loss after | {_fmt(outcome.eval_loss)} |",
        f"| training time (s) | {_fmt(outcome.seconds, 1)} |",
        "",
        "Token losses of different vocabularies are not comparable; `domainlm evaluate` measures "
        + ("replaced-word detection AUC" if card.electra else "masked-word bits per character")
        + " and downstream probes before and after.",
        "",
    ]


def _use(card: _Card) -> list[str]:
    """How to load it (the merged model, the adapter on its filled base, or both), its files, the libraries."""
    folder_name = card.folder_name
    snippet = (
        discriminator_snippet(folder_name)
        if card.electra
        else usage_snippet(folder_name, _example_sentence(card.slots, card.mask_token))
    )
    save = card.settings.get("save") if card.adapt else None
    if save in ("adapter", "both"):
        adapter = adapter_snippet(
            folder_name,
            card.base_shown or "BASE_MODEL",
            "ElectraForPreTraining" if card.electra else "AutoModelForMaskedLM",
        )
        snippet = adapter if save == "adapter" else f"{snippet}\n\n# or the LoRA adapter on its filled base:\n{adapter}"
    return [
        "## Use",
        "",
        "Run from the folder that holds this model's folder:",
        "",
        "```python",
        snippet,
        "```",
        "",
        "Files: `settings.json` (all settings), `versions.json` (library versions), "
        "`metrics.jsonl` (one record per log step), `slots.json` (filled slots).",
        "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in card.versions.items() if v),
        "",
    ]
