"""`domainlm finetune` / `domainlm benchmark` as a person meets them: bad input gets a red message
with a hint and exit 2 (no traceback), before any training; a good run prints the table, and in a
real terminal its progress bars draw."""

from __future__ import annotations

import shutil

SMALL = [
    "--seeds",
    "1",
    "--epochs",
    "1",
    "--max-train",
    "16",
    "--max-dev",
    "8",
    "--max-test",
    "8",
    "--batch-size",
    "8",
    "--max-seq-len",
    "32",
    "--threads",
    "1",
]


def refused(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


def test_unknown_task_lists_the_known_ones(cli, tiny_mlm_dir, tmp_path):
    r = cli("finetune", tiny_mlm_dir, "--task", "navre-ner", "-o", tmp_path / "out")
    refused(r, "Unknown task 'navre-ner'", "nsmc", "klue-ner", "korsts", "shopping-rating")
    r = cli("benchmark", "--model", f"a={tiny_mlm_dir}", "--tasks", "nsmc,nope", "-o", tmp_path / "b")
    refused(r, "Unknown task 'nope'", "or all")


def test_missing_data_file_names_it_and_its_source(cli, tiny_mlm_dir, tmp_path):
    r = cli("finetune", tiny_mlm_dir, "--task", "klue-ner", "--task-data", tmp_path, "-o", tmp_path / "out")
    refused(r, "klue_ner_dev.tsv", "does not exist", "KLUE NER", "--task-data")
    assert not (tmp_path / "out").exists()


def test_labels_outside_the_label_map(cli, tiny_mlm_dir, tmp_path):
    data = tmp_path / "reviews.tsv"
    data.write_text(
        "text\tstars\n" + "".join(f"리뷰 {i}\t{s}\n" for i, s in enumerate(["1", "5", "3", "5", "1"] * 8)),
        encoding="utf-8",
    )
    task = tmp_path / "stars.yaml"
    task.write_text(
        f"name: stars\ntype: single\nmetric: accuracy\ntrain: {data}\ntext_columns: [text]\n"
        "label_column: stars\nlabel_map: {'1': 0, '5': 1}\n",
        encoding="utf-8",
    )
    r = cli("finetune", tiny_mlm_dir, "--task", task, "-o", tmp_path / "out")
    refused(r, "labels outside the label map", "'3' (line 4)", "ignore_labels")


def test_ner_tags_that_are_not_bio(cli, tiny_mlm_dir, tmp_path):
    data = tmp_path / "ner.txt"
    data.write_text("1\t홍길동\tPER_B\n2\t서울\tLOC_S\n3\t간다\t-\n", encoding="utf-8")
    task = tmp_path / "ner.yaml"
    task.write_text(
        f"name: naver-ner\ntype: tokens\nmetric: entity_f1\nformat: naver-ner\ntrain: {data}\n", encoding="utf-8"
    )
    r = cli("finetune", tiny_mlm_dir, "--task", task, "-o", tmp_path / "out")
    refused(r, "not BIO", "LOC_S")


def test_max_seq_len_beyond_the_models_positions(cli, tiny_mlm_dir, tmp_path, shared_data):
    r = cli("finetune", tiny_mlm_dir, "--task", "question-pair", "--max-seq-len", "512", "-o", tmp_path / "out")
    refused(r, "--max-seq-len 512", "128 positions", "--max-seq-len 128 or less")


def test_model_folder_without_a_tokenizer(cli, tiny_mlm_dir, tmp_path, shared_data):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in tiny_mlm_dir.iterdir():
        if f.name in ("config.json", "model.safetensors"):
            shutil.copy(f, bare / f.name)
    r = cli("finetune", bare, "--task", "question-pair", "-o", tmp_path / "out")
    refused(r, "has no tokenizer", "tokenizer.save_pretrained")


def test_regression_task_on_a_model_saved_as_a_classifier(cli, tiny_mlm_dir, tmp_path, shared_data):
    from transformers import AutoModelForSequenceClassification

    classifier = tmp_path / "classifier"
    AutoModelForSequenceClassification.from_pretrained(str(tiny_mlm_dir), num_labels=2).save_pretrained(str(classifier))
    for f in tiny_mlm_dir.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
            shutil.copy(f, classifier / f.name)
    r = cli("finetune", classifier, "--task", "korsts", "-o", tmp_path / "out")
    refused(r, "saved as a classifier", "regression task", "Fine-tune the encoder")


def test_benchmark_model_option_must_be_name_equals_path(cli, tiny_mlm_dir, tmp_path):
    refused(cli("benchmark", "--model", str(tiny_mlm_dir), "--tasks", "nsmc", "-o", tmp_path / "b"), "is not NAME=PATH")
    refused(
        cli(
            "benchmark",
            "--model",
            f"a={tiny_mlm_dir}",
            "--model",
            f"a={tiny_mlm_dir}",
            "--tasks",
            "nsmc",
            "-o",
            tmp_path / "b",
        ),
        "given twice",
    )


def test_finetune_refuses_a_folder_it_did_not_make(cli, tiny_mlm_dir, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    refused(cli("finetune", tiny_mlm_dir, "--task", "klue-sts", "-o", out), "not empty", "--force")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_finetune_command_prints_the_seed_table(cli, tiny_mlm_dir, tmp_path, shared_data):
    out = tmp_path / "sts"
    r = cli("finetune", tiny_mlm_dir, "--task", "klue-sts", "-o", out, *SMALL)
    assert r.exit_code == 0, r.output
    assert "klue-sts (pearson)" in r.output and "best epoch" in r.output and "no train split" in r.output
    assert (out / "finetune.json").is_file() and (out / "seed-1" / "test_predictions.tsv").is_file()


def test_benchmark_in_a_terminal_draws_its_bars(tiny_mlm_dir, tmp_path, shared_data):
    from test_terminal import assert_clean, run_in_terminal

    status, output = run_in_terminal(
        ["benchmark", "--model", f"tiny={tiny_mlm_dir}", "--tasks", "klue-sts", "-o", tmp_path / "bench", *SMALL],
        cwd=tmp_path,
        columns=80,
    )
    plain = assert_clean(status, output)
    assert "klue-sts (Pearson)" in plain and (tmp_path / "bench" / "benchmark.md").is_file()
