"""The fine-tuning suite: metrics against hand-computed values, the task registry on the real shared
files, the protocol (dev-only selection, test read once at the end, determinism, pairing), and every
task type end to end on a tiny model (a few steps)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from domainlm.errors import ConfigError, EvaluationError
from domainlm.finetune import BUILTIN_TASKS, SUITE_ORDER, Task, load_task_data, resolve_tasks
from domainlm.finetune.metrics import paired_difference, seed_summary
from domainlm.tasks.metrics import (
    MetricData,
    accuracy,
    entity_f1,
    macro_f1,
    pearson,
    spearman,
)

# One torch thread: on a busy 2-core machine two threads thrash on tiny models (a step took 10x longer).
SMALL = dict(max_train=16, max_dev=16, max_test=16, epochs=2, batch_size=8, max_seq_len=64, threads=1)


# ---------------------------------------------------------------- metrics, by hand


def test_accuracy_by_hand():
    assert accuracy([0, 1, 1, 0, 1], [0, 1, 0, 0, 0]) == pytest.approx(3 / 5)


def test_macro_f1_by_hand():
    # class 0: tp 1, gold 2, pred 2 → 0.5; class 1: tp 2, gold 2, pred 3 → 0.8; class 2: tp 1, gold 2, pred 1 → 2/3
    assert macro_f1([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0]) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)


def test_pearson_by_hand():
    # dx = ±1.5, ±0.5; dy = -3, -1, 0, 4: Σdxdy = 11, Σdx² = 5, Σdy² = 26
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(5 * 26))


def test_spearman_by_hand():
    # ranks of y: 1, 3, 2, 4, 5 → Σd² = 2 → 1 − 6·2 / (5·24)
    assert spearman([1, 2, 3, 4, 5], [10, 30, 20, 40, 50]) == pytest.approx(0.9)
    # ties get average ranks, as scipy's spearmanr
    from scipy.stats import spearmanr

    x, y = [1, 2, 3, 4, 5, 6], [1.0, 3.0, 3.0, 2.0, 5.0, 5.0]
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)


def test_entity_f1_by_hand_and_as_seqeval():
    gold = [["B-PS", "I-PS", "O", "B-LC"], ["O", "B-OG", "I-OG"]]
    pred = [["B-PS", "I-PS", "O", "O"], ["O", "B-OG", "O"]]
    # gold entities PS(0-1), LC(3), OG(1-2); predicted PS(0-1), OG(1): one exact match → 2·1 / (3 + 2)
    assert entity_f1(gold, pred) == pytest.approx(0.4)
    from seqeval.metrics import f1_score

    assert entity_f1(gold, pred) == pytest.approx(f1_score(gold, pred))
    # resampling the per-sentence counts gives the same number on the full set
    assert MetricData("entity_f1", gold, pred).score() == pytest.approx(0.4)


def test_seed_summary_t_interval():
    s = seed_summary([0.8, 0.9, 1.0])
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t(0.975, 2) · std / √n
    assert (s["mean"], s["std"], s["n"]) == (pytest.approx(0.9), pytest.approx(0.1), 3)
    assert (s["low"], s["high"]) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half))


def test_paired_difference_verdicts():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 2, 400)
    noisy = np.where(rng.random(400) < 0.3, 1 - gold, gold)
    same = [MetricData("accuracy", gold, noisy) for _ in range(3)]
    diff, verdict = paired_difference(same, same)
    assert verdict == "within noise" and diff.value == 0 and diff.low == 0 and diff.high == 0
    better = [MetricData("accuracy", gold, np.where(rng.random(400) < 0.05, 1 - gold, gold)) for _ in range(3)]
    diff, verdict = paired_difference(same, better)
    assert verdict == "better" and diff.low > 0
    assert paired_difference(better, same)[1] == "worse"


# ---------------------------------------------------------------- tasks on the real shared files


def test_builtin_tasks_read_the_shared_files(shared_data):
    expected_labels = {
        "nsmc": ["0", "1"],
        "hate-speech": ["none", "offensive", "hate"],
        "kornli": ["entailment", "neutral", "contradiction"],
        "shopping-rating": ["1|2", "4|5"],
    }
    for name in SUITE_ORDER:
        task = BUILTIN_TASKS[name]
        data = load_task_data(task, shared_data, max_train=300, max_dev=100, max_test=100)
        test = data.load_test()
        assert data.train and data.dev and test, name
        keys = [{ex.key for ex in split} for split in (data.train, data.dev, test)]
        # Carved splits never share a text with train (the official NSMC / KorSTS files do, a little: kept as
        # published, so scores stay comparable with the seed's table).
        if task.dev is None:
            assert not keys[0] & keys[1], f"{name}: a text in train and in the carved dev"
        if task.test is None:
            assert not (keys[0] | keys[1]) & keys[2], f"{name}: a text in train/dev and in the carved test"
        if name in expected_labels:
            assert data.label_names == expected_labels[name]
        if task.type == "regression":
            assert all(isinstance(ex.label, float) and 0 <= ex.label <= 5 for ex in data.train)
        if task.type == "tokens":
            assert data.label_names[0] == "O" and "B-PS" in data.label_names
            assert all(len(ex.label) == len(ex.texts) for ex in data.train)
    # the same examples every time (splits and budgets are hashes, not seeds)
    a = load_task_data(BUILTIN_TASKS["question-pair"], shared_data, max_train=50)
    b = load_task_data(BUILTIN_TASKS["question-pair"], shared_data, max_train=50)
    assert [ex.key for ex in a.train] == [ex.key for ex in b.train]


def test_tasks_without_a_train_split_say_so():
    for name in ("kornli", "paws-x", "klue-ner", "klue-nli", "klue-sts"):
        assert "no train split" in BUILTIN_TASKS[name].note
    assert "carved from train" in BUILTIN_TASKS["nsmc"].split_protocol()


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ConfigError) as e:
        resolve_tasks("nsmcc")
    assert "nsmcc" in e.value.message and all(n in e.value.hint for n in SUITE_ORDER)
    assert [t.name for t in resolve_tasks("all")] == list(SUITE_ORDER)


def test_user_task_yaml_is_strict(tmp_path, shared_data):
    good = tmp_path / "task.yaml"
    good.write_text(
        f"name: my-pairs\ntype: pair\nmetric: accuracy\ntrain: {shared_data}/eval/question_pair_dev.tsv\n"
        "text_columns: [question1, question2]\nlabel_column: is_duplicate\nlabel_map: {'0': 0, '1': 1}\n",
        encoding="utf-8",
    )
    (task,) = resolve_tasks(str(good))
    assert task.name == "my-pairs" and task.test is None
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: My Task\ntype: pair\nmetric: spearman\ntrain: x.tsv\ntext_columns: [a]\nlabel_column: y\nepoch: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        resolve_tasks(str(bad))
    # every field problem at once: the name and the unknown key
    assert "name:" in e.value.message and "epoch: Extra inputs" in e.value.message
    bad.write_text(
        "name: my-task\ntype: pair\nmetric: accuracy\ntrain: x.tsv\ntext_columns: [a]\nlabel_column: y\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as e:
        resolve_tasks(str(bad))
    assert "needs 2 text column(s)" in e.value.message


def test_naver_ner_format_and_bio_check(tmp_path):
    path = tmp_path / "naver.txt"
    path.write_text(
        "1\t비토리오\tPER_B\n2\t양일\tDAT_B\n3\t만에\t-\n\n1\t서울\tLOC_B\n2\t특별시\tLOC_I\n3\t간다\t-\n",
        encoding="utf-8",
    )
    task = Task(
        name="naver-ner",
        type="tokens",
        metric="entity_f1",
        format="naver-ner",
        train=str(path),
        dev=str(path),
        test=str(path),
    )
    data = load_task_data(task)
    assert data.unit_separator == " "
    assert data.train[1].texts == ("서울", "특별시", "간다")
    assert [data.label_names[i] for i in data.train[1].label] == ["B-LOC", "I-LOC", "O"]
    bioes = tmp_path / "bioes.tsv"
    bioes.write_text("경\tS-OG\n찰\tO\n", encoding="utf-8")
    with pytest.raises(EvaluationError) as e:
        load_task_data(task.model_copy(update={"format": "klue-ner", "train": str(bioes), "dev": None, "test": None}))
    assert "not BIO" in e.value.message and "S-OG" in e.value.message


def test_labels_outside_the_label_map(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("text\tlabel\n좋아요\tpos\n별로\tneg\n그저그래\tmeh\n", encoding="utf-8")
    task = Task(
        name="t",
        type="single",
        metric="accuracy",
        train=str(path),
        text_columns=["text"],
        label_column="label",
        label_map={"pos": 1, "neg": 0},
    )
    with pytest.raises(EvaluationError) as e:
        load_task_data(task)
    assert "'meh' (line 4)" in e.value.message and "label map" in e.value.message


def test_missing_file_names_it_and_the_source(tmp_path):
    with pytest.raises(EvaluationError) as e:
        load_task_data(BUILTIN_TASKS["korsts"], tmp_path)
    assert "korsts_train.tsv" in e.value.message and "KorSTS" in e.value.hint and "--task-data" in e.value.hint


# ---------------------------------------------------------------- batching


def test_length_grouped_batches_cover_everything_with_little_padding():
    from domainlm.finetune.loop import LengthGroupedBatches

    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 128, 2000).tolist()
    grouped = LengthGroupedBatches(lengths, 32, seed=3)
    batches = list(grouped)
    assert sorted(i for b in batches for i in b) == list(range(2000))
    assert batches == list(LengthGroupedBatches(lengths, 32, seed=3))  # deterministic
    grouped.set_epoch(1)
    assert list(grouped) != batches  # but reshuffled each epoch
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    random = sum(len(b) * max(lengths[i] for i in b) for b in LengthGroupedBatches(lengths, 32, mode="random"))
    assert padded < 0.6 * random


def test_unit_predictions_continue_entities_inside_a_token():
    from domainlm.tasks.types.tokens import unit_predictions

    names = ["O", "B-PS", "I-PS"]
    # token 1 covers units 0 and 1 (e.g. '홍길'), token 2 unit 2; unit 3 was cut off
    assert unit_predictions([0, 1, 2, 0], [(1, True), (1, False), (2, True), None], names) == [
        "B-PS",
        "I-PS",
        "I-PS",
        "O",
    ]
    # a space no token covers is inside an entity only when the next unit continues that entity
    assert unit_predictions([0, 1, 2, 1], [(1, True), None, (2, True), None, (3, True)], names) == [
        "B-PS",
        "I-PS",
        "I-PS",
        "O",
        "B-PS",
    ]


def test_char_level_ner_round_trips_through_the_tokenizer(tiny_tokenizer_dir, shared_data):
    """Gold tags → token labels → unit tags: what a perfect tagger scores (the tiny vocab splits finely)."""
    from transformers import AutoTokenizer

    from domainlm.tasks.types.tokens import unit_predictions

    data = load_task_data(BUILTIN_TASKS["klue-ner"], shared_data, max_train=300)
    enc = data.task.kind.encode(
        data.train,
        AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir)),
        128,
        data.label_names,
        data.unit_separator,
    )
    gold = [[data.label_names[t] for t in ex.label] for ex in data.train]
    back = [
        unit_predictions([max(lab, 0) for lab in f["labels"]], u, data.label_names)
        for f, u in zip(enc.features, enc.unit_tokens)
    ]
    assert entity_f1(gold, back) > 0.9


# ---------------------------------------------------------------- end to end on a tiny model


@pytest.mark.parametrize("task", ["nsmc", "question-pair", "korsts", "klue-ner"])
def test_each_task_type_end_to_end(task, tiny_mlm_dir, shared_data, tmp_path):
    from domainlm.finetune import finetune
    from domainlm.tasks.metrics import compute

    out = tmp_path / "ft"
    result = finetune(tiny_mlm_dir, task, out, seeds=1, data_dir=shared_data, **SMALL)
    (run,) = result.runs
    assert [c["epoch"] for c in run.dev_curve] == [1, 2]
    devs = [c["dev"] if c["dev"] == c["dev"] else -math.inf for c in run.dev_curve]
    assert run.best_epoch == 1 + int(np.argmax(devs))  # the epoch is chosen on dev
    metrics = json.loads((out / "seed-1" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == task and metrics["settings"]["max_train"] == 16 and metrics["sizes"]["test"] == 16
    assert json.loads((out / "seed-1" / "dev_curve.json").read_text(encoding="utf-8"))[1]["epoch"] == 2
    assert json.loads((out / "finetune.json").read_text(encoding="utf-8"))["summary"]["n"] in (0, 1)
    rows = (out / "seed-1" / "test_predictions.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 16
    # the reported test score is the metric of the written predictions
    cols = [r.split("\t") for r in rows]
    if task == "klue-ner":
        recomputed = compute("entity_f1", [c[2].split() for c in cols], [c[3].split() for c in cols])
    elif task == "korsts":
        recomputed = compute("spearman", [float(c[-2]) for c in cols], [float(c[-1]) for c in cols])
    else:
        recomputed = compute("accuracy", [c[-2] == "1" for c in cols], [c[-1] == "1" for c in cols])
    if math.isfinite(run.test_score):
        assert recomputed == pytest.approx(run.test_score, abs=1e-3)


def test_test_split_is_read_once_after_the_last_dev_evaluation(tiny_mlm_dir, shared_data, monkeypatch):
    from domainlm.finetune import finetune
    from domainlm.tasks import TaskData

    events: list[str] = []
    original = TaskData.load_test

    def spy(self):
        events.append("test read")
        return original(self)

    monkeypatch.setattr(TaskData, "load_test", spy)
    finetune(
        tiny_mlm_dir,
        "hate-speech",
        None,
        seeds=1,
        data_dir=shared_data,
        on_event=lambda name, **_: events.append(name),
        **SMALL,
    )
    assert events == ["dev", "dev", "test read", "test"]


def test_identical_models_are_within_noise_and_runs_are_deterministic(tiny_mlm_dir, shared_data, tmp_path):
    from domainlm.finetune import benchmark

    twin = tmp_path / "twin"
    shutil.copytree(tiny_mlm_dir, twin)
    # An adapted model (it has a slot manifest): its card gets the table.
    (twin / "slots.json").write_text('{"format": 1, "slots": []}\n', encoding="utf-8")
    result = benchmark(
        {"base": tiny_mlm_dir, "twin": twin},
        "nsmc",
        tmp_path / "bench",
        seeds=2,
        data_dir=shared_data,
        resamples=200,
        **{**SMALL, "epochs": 1},
    )
    a, b = result.results[("base", "nsmc")], result.results[("twin", "nsmc")]
    assert [r.test_pred for r in a.runs] == [r.test_pred for r in b.runs]  # same seed, same model → same run
    (comparison,) = result.comparisons
    assert comparison.verdict == "within noise" and comparison.difference["value"] == 0
    saved = json.loads((tmp_path / "bench" / "benchmark.json").read_text(encoding="utf-8"))
    assert saved["comparisons"][0]["verdict"] == "within noise" and saved["seeds"] == [1, 2]
    md = (tmp_path / "bench" / "benchmark.md").read_text(encoding="utf-8")
    assert "| base |" in md and "nsmc (acc)" in md and "within noise" in md
    assert (tmp_path / "bench" / "benchmark.png").stat().st_size > 1000
    assert (tmp_path / "bench" / "runs" / "twin" / "nsmc" / "seed-2" / "metrics.json").is_file()
    card = (twin / "README.md").read_text(encoding="utf-8")
    assert "## Fine-tuning benchmark" in card and "Paired with `base`: nsmc +0.00" in card
    base_card = Path(tiny_mlm_dir) / "README.md"  # a base (no slots.json) is left alone
    assert not base_card.exists() or "Fine-tuning benchmark" not in base_card.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def albert_and_electra(tiny_tokenizer_dir, tmp_path_factory) -> dict[str, Path]:
    """Tiny ALBERT (masked-LM) and ELECTRA (discriminator) checkpoints with the tiny tokenizer."""
    import torch
    from transformers import AlbertConfig, AlbertForMaskedLM, AutoTokenizer, ElectraConfig, ElectraForPreTraining

    tok = AutoTokenizer.from_pretrained(str(tiny_tokenizer_dir))
    common = dict(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    out = {}
    for name, model in (
        ("albert", lambda: AlbertForMaskedLM(AlbertConfig(embedding_size=16, **common))),
        ("electra", lambda: ElectraForPreTraining(ElectraConfig(embedding_size=32, **common))),
    ):
        torch.manual_seed(0)
        folder = tmp_path_factory.mktemp(name)
        model().save_pretrained(str(folder))
        for f in tiny_tokenizer_dir.iterdir():
            shutil.copy(f, folder / f.name)
        out[name] = folder
    return out


@pytest.mark.parametrize("arch,task", [("albert", "question-pair"), ("electra", "klue-ner")])
def test_albert_and_electra_discriminators_fine_tune(arch, task, albert_and_electra, shared_data):
    from domainlm.finetune import finetune

    result = finetune(albert_and_electra[arch], task, None, seeds=1, data_dir=shared_data, **{**SMALL, "epochs": 1})
    (run,) = result.runs
    assert run.best_epoch == 1 and len(run.test_pred) == 16 and math.isfinite(run.test_score)


def test_a_recipe_task_becomes_a_suite_task(tmp_path):
    import gzip

    from domainlm.corpus import CorpusSpec
    from domainlm.tasks import TaskSpec, task_from_spec

    spec = CorpusSpec(path="reviews/naver_shopping_50k.tsv", field="text")
    assert (
        task_from_spec(TaskSpec(name="shopping-rating", train=spec, test=spec, label_field="rating"))
        is BUILTIN_TASKS["shopping-rating"]
    )
    # a recipe's own task (the demo's gzipped reviews): single text, its label map, unrated rows skipped
    path = tmp_path / "reviews.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(
            "id\trating\ttext\n"
            + "".join(f"{i}\t{'' if i % 5 == 0 else (1 if i % 2 else 5)}\t리뷰 {i}번 좋아요\n" for i in range(200))
        )
    own = CorpusSpec(path=str(path), field="text")
    task = task_from_spec(
        TaskSpec(
            name="Cosmetics rating",
            train=own,
            test=own,
            label_field="rating",
            label_map={"1": 0, "2": 0, "4": 1, "5": 1},
        )
    )
    assert task.name == "cosmetics-rating" and task.test is None
    data = load_task_data(task)
    assert len(data.train) + len(data.dev) + len(data.load_test()) == 160


def test_fine_tuning_uses_the_fused_adamw_unless_told_not_to():
    """The fused kernel is the default (the for-loop kernel's passes took 27% of a CPU step); both kernels take
    the same AdamW step up to rounding, and fused_adamw=False gives the for-loop kernel earlier runs used."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from domainlm.finetune.loop import FinetuneSettings, _optimizer_and_schedule

    config = BertConfig(
        vocab_size=300, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    ids = torch.randint(5, 300, (4, 12))
    labels = torch.tensor([0, 1, 1, 0])
    hp = {"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.0}
    after = {}
    for fused in (True, False):
        torch.manual_seed(0)
        model = BertForSequenceClassification(config)
        model.train()
        optimizer, _ = _optimizer_and_schedule(model, hp | {"fused_adamw": fused}, total_steps=10)
        assert optimizer.defaults["fused"] is fused
        for _ in range(3):
            torch.manual_seed(1)  # the same dropout masks for both kernels
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        after[fused] = {n: p.detach().clone() for n, p in model.named_parameters()}
    for name, tensor in after[True].items():
        torch.testing.assert_close(tensor, after[False][name], rtol=1e-5, atol=1e-6, msg=name)
    assert FinetuneSettings().fused_adamw is True
    assert FinetuneSettings(fused_adamw=False).resolved(next(iter(BUILTIN_TASKS.values())))["fused_adamw"] is False
