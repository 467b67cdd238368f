"""Token classification (NER): a BIO tag per unit (a character of KLUE-NER, a word of Naver NER), scored by
entity F1. Each token is labelled by the unit its first character is in; a unit is predicted by its first token."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import ClassVar

import numpy as np

from domainlm.errors import EvaluationError
from domainlm.tasks.data import EncodedExamples, Example, TaskFields
from domainlm.tasks.readers import open_text
from domainlm.tasks.types.base import TaskType
from domainlm.tasks.types.classification import label_map_names

_BIO = re.compile(r"^(O|[BI]-\S+)$")


class TokenTagging(TaskType):
    name: ClassVar[str] = "tokens"
    help: ClassVar[str] = "tokens (a tag per character or word)"
    metrics: ClassVar[tuple[str, ...]] = ("entity_f1",)
    auto_model: ClassVar[str] = "AutoModelForTokenClassification"
    model_kind: ClassVar[str] = "token"
    hub_task_type: ClassVar[str] = "token-classification"
    pads_predictions: ClassVar[bool] = True

    def check(self, task: TaskFields) -> None:
        if task.format not in ("klue-ner", "naver-ner", "jsonl"):
            raise ValueError("a tokens task reads klue-ner, naver-ner or jsonl (tokens + tags) files")
        if task.metric != "entity_f1":
            raise ValueError("a tokens task is scored by entity_f1")

    def read(self, task: TaskFields, path: Path) -> list[Example]:
        return read_tagged(task, path)

    def label_names(self, task: TaskFields, seen: list[Example]) -> list[str]:
        if task.label_map is not None:
            return label_map_names(task)
        tags = {t for ex in seen for t in ex.label}
        # O first, then each type's B and I together: a readable, stable order.
        return ["O"] + sorted(tags - {"O"}, key=lambda t: (t[2:], t[0]))

    def label_index(self, task: TaskFields, names: list[str]) -> dict:
        return dict(task.label_map) if task.label_map is not None else super().label_index(task, names)

    def encode_labels(self, task: TaskFields, examples: list[Example], index: dict) -> list[Example]:
        for ex in examples:
            if any(t not in index for t in ex.label):
                unknown = sorted({t for t in ex.label if t not in index})
                raise EvaluationError(
                    f"Task '{task.name}': '{ex.source}' line {ex.line} has tags never seen in "
                    f"train or dev: {', '.join(unknown)}.",
                    "Give the task a label_map with every tag.",
                )
            ex.label = [index[t] for t in ex.label]
        return examples

    def unit_separator(self, task: TaskFields) -> str:
        return " " if task.format in ("naver-ner", "jsonl") else ""  # words; KLUE-NER's units are characters

    def encode(self, examples, tokenizer, max_seq_len: int, label_names, unit_separator: str) -> EncodedExamples:
        names = set(tokenizer.model_input_names)
        return _encode_tokens(examples, tokenizer, max_seq_len, label_names, unit_separator, names)

    def loss(self, logits, labels):
        import torch.nn.functional as F

        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)

    def score(self, task: TaskFields, preds: list, examples: list[Example], encoded: EncodedExamples, label_names):
        assert encoded.unit_tokens is not None  # tokens tasks encode their units (_encode_tokens)
        gold = [[label_names[t] for t in ex.label] for ex in examples]
        pred = [unit_predictions(p, u, label_names) for p, u in zip(preds, encoded.unit_tokens)]
        return self.metric_data(task.metric, gold, pred, label_names).score(), gold, pred

    def ceiling_notes(self, task: TaskFields, examples, encoded: EncodedExamples, label_names) -> list[str]:
        """What a perfect token tagger would score. Units are scored, tokens predicted, and a token that
        spans an entity boundary ("대통령의" with 의 outside) cannot be right on both sides."""
        perfect = [[lab if lab >= 0 else 0 for lab in f["labels"]] for f in encoded.features]
        ceiling, _, _ = self.score(task, perfect, examples, encoded, label_names)
        return [
            f"a perfect token tagger scores {100 * ceiling:.2f} entity F1 with this tokenizer "
            "(tokens that span an entity boundary, or cut off at --max-seq-len)"
        ]

    def prediction_lines(self, task: TaskFields, examples, gold, pred, label_names) -> list[str]:
        lines = ["index\tunits\tgold\tpredicted\n"]
        for i, (ex, g, p) in enumerate(zip(examples, gold, pred)):
            units = "|".join(u.replace("\t", " ") for u in ex.texts)
            lines.append(f"{i}\t{units}\t{' '.join(g)}\t{' '.join(p)}\n")
        return lines


def _naver_tag(tag: str) -> str:
    """Naver NER tags (PER_B, PER_I, '-') as BIO (B-PER, I-PER, O)."""
    if tag in ("-", "O"):
        return "O"
    m = re.match(r"^(.+)_([BI])$", tag)
    return f"{m.group(2)}-{m.group(1)}" if m else tag


def read_tagged(task: TaskFields, path: Path) -> list[Example]:
    """Sentences of a klue-ner (character, tag), naver-ner (index, word, tag) or jsonl (tokens, tags) file."""
    sentences: list[Example] = []
    bad: dict[str, int] = {}

    def add(units, tags, line):
        if not units:
            return
        for t in tags:
            if not _BIO.match(t):
                bad.setdefault(t, line)
        sentences.append(Example(tuple(units), list(tags), str(path), line))

    if task.format == "jsonl":
        for line, row in ((i, json.loads(text)) for i, text in enumerate(open_text(path), 1) if text.strip()):
            tokens, tags = row.get("tokens"), row.get("tags")
            if not isinstance(tokens, list) or not isinstance(tags, list) or len(tokens) != len(tags):
                raise EvaluationError(
                    f"Task '{task.name}': '{path}' line {line} needs 'tokens' and 'tags' lists of the same length.",
                    'A tokens jsonl file holds {"tokens": [...], "tags": [...]} a line.',
                )
            add([str(t) for t in tokens], [str(t) for t in tags], line)
    else:
        units: list[str] = []
        tags = []
        start = 1
        with open_text(path) as fh:
            for i, raw in enumerate(fh, start=1):
                line = raw.rstrip("\r\n")
                if line.startswith("##"):
                    continue  # KLUE's comment lines (file header, the sentence with its markup)
                # KLUE-NER's spaces are units (" \tO"): only an empty line ends a sentence there.
                blank = line == "" if task.format == "klue-ner" else not line.strip()
                if blank:
                    add(units, tags, start)
                    units, tags, start = [], [], i + 1
                    continue
                parts = line.split("\t")
                if task.format == "klue-ner":
                    if len(parts) != 2:
                        raise EvaluationError(
                            f"Task '{task.name}': '{path}' line {i} is not 'character<TAB>tag'.",
                            "format klue-ner reads KLUE-NER's files; Naver NER files are format naver-ner.",
                        )
                    units.append(parts[0])
                    tags.append(parts[1].strip())
                else:
                    if len(parts) == 3:
                        parts = parts[1:]  # the word index
                    if len(parts) != 2:
                        raise EvaluationError(
                            f"Task '{task.name}': '{path}' line {i} is not '[index<TAB>]word<TAB>tag'.",
                            "format naver-ner reads Naver NER files (index, word, tag per line).",
                        )
                    units.append(parts[0])
                    tags.append(_naver_tag(parts[1].strip()))
            add(units, tags, start)
    if bad:
        shown = ", ".join(f"'{k}' (line {v})" for k, v in list(bad.items())[:5])
        raise EvaluationError(
            f"Task '{task.name}': '{path}' has NER tags that are not BIO: {shown}.",
            "Tags must be O, B-TYPE or I-TYPE (Naver's PER_B / PER_I / '-' are converted by format naver-ner).",
        )
    if task.label_map is not None:
        outside = sorted({t for s in sentences for t in s.label if t not in task.label_map})
        if outside:
            raise EvaluationError(
                f"Task '{task.name}': '{path}' has tags outside the label map: {', '.join(outside[:8])}.",
                "Add them to label_map or leave label_map out (then the tags of the data are used).",
            )
    return sentences


def _encode_tokens(examples, tokenizer, max_seq_len, label_names, separator, names) -> EncodedExamples:
    inside = {
        i: label_names.index("I-" + n[2:]) if n.startswith("B-") and "I-" + n[2:] in label_names else i
        for i, n in enumerate(label_names)
    }
    texts, spans = [], []
    for ex in examples:
        pos, s = 0, []
        for u in ex.texts:
            s.append((pos, pos + len(u)))
            pos += len(u) + len(separator)
        texts.append(separator.join(ex.texts))
        spans.append(s)
    enc = tokenizer(texts, truncation=True, max_length=max_seq_len, return_offsets_mapping=True)
    features, unit_tokens = [], []
    for i, ex in enumerate(examples):
        offsets = enc["offset_mapping"][i]
        char_unit = np.full(len(texts[i]) + 1, -1, dtype=np.int64)
        for u, (a, b) in enumerate(spans[i]):
            char_unit[a:b] = u
        first_token: list = [None] * len(ex.texts)
        labels = []
        for t, (a, b) in enumerate(offsets):
            if b <= a:
                labels.append(-100)  # [CLS], [SEP]
                continue
            u = int(char_unit[a])
            if u < 0:
                labels.append(-100)
                continue
            tag = ex.label[u]
            is_first = first_token[u] is None
            labels.append(tag if is_first else inside[tag])
            for c in range(a, b):  # every unit this token covers predicts from it
                cu = int(char_unit[c])
                if cu >= 0 and first_token[cu] is None:
                    first_token[cu] = (t, spans[i][cu][0] == a)
        f = {"input_ids": enc["input_ids"][i], "index": i, "labels": labels}
        if "token_type_ids" in names and "token_type_ids" in enc:
            f["token_type_ids"] = enc["token_type_ids"][i]
        features.append(f)
        unit_tokens.append(first_token)
    return EncodedExamples(features, unit_tokens, sum(len(f["input_ids"]) for f in features))


def unit_predictions(token_preds: list[int], unit_tokens: list, label_names: list[str]) -> list[str]:
    """A tag per unit: its first token's; a unit starting inside that token continues it (B- → I-);
    a unit cut off by the length limit is O."""
    tags: list[str | None] = []
    for entry in unit_tokens:
        if entry is None:
            tags.append(None)
            continue
        t, starts = entry
        tag = label_names[token_preds[t]] if 0 <= token_preds[t] < len(label_names) else "O"
        tags.append(tag if starts or not tag.startswith("B-") else "I-" + tag[2:])
    # A unit no token covers (a space between two words of one entity, "천주교 정의구현사제단") is
    # inside the entity when the units on both sides are: the next covered one continues it (I-).
    out: list[str] = []
    for i, tag in enumerate(tags):
        if tag is None:
            prev = out[-1] if out else "O"
            after = next((x for x in tags[i + 1 :] if x is not None), "O")
            tag = "I-" + prev[2:] if prev != "O" and after == "I-" + prev[2:] else "O"
        out.append(tag)
    return out
