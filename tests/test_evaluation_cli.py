"""`domainlm evaluate` through typer's CliRunner: the happy path and every bad input, exact messages."""

from __future__ import annotations

import json
import shutil

FAST = ("--max-texts", "40", "--bootstrap", "100")


def flat(text: str) -> str:
    return " ".join(text.split())


def test_cli_evaluate_writes_report(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    out = tmp_path / "ev"
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        eval_files["domain"],
        "--general",
        eval_files["general"],
        "--task",
        eval_files["task_json"],
        "-o",
        out,
        "--no-card",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    stdout = flat(result.stdout)
    assert "before vs after (95% intervals)" in stdout
    assert "Domain gain: MW-BPC on held-out domain text fell by" in stdout
    assert "Probe 'toy-sentiment': accuracy" in stdout
    assert f"Wrote {out / 'report.md'}" in stdout
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["schema"] == "domainlm.report/1" and data["probes"][0]["test_examples"] == 40


def test_cli_empty_heldout(cli, tiny_mlm_dir, filled_mlm_dir, tmp_path):
    empty = tmp_path / "heldout.txt"
    empty.write_text("🙂🙂\n   \n", encoding="utf-8")
    result = cli(
        "evaluate", "--before", tiny_mlm_dir, "--after", filled_mlm_dir, "--domain", empty, "-o", tmp_path / "o"
    )
    assert result.exit_code == 2
    assert flat(result.stderr) == flat(
        f"Error: The held-out domain text is empty: 2 document(s) read from {empty}, none left after normalisation. "
        "Pass a non-empty held-out domain corpus (e.g. the held-out file written by "
        "`domainlm corpus clean --heldout-fraction`)."
    )
    assert "Traceback" not in result.output


def test_cli_task_file_without_labels(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        eval_files["domain"],
        "--task",
        eval_files["nolabel_json"],
        "-o",
        tmp_path / "o",
    )
    assert result.exit_code == 2
    nolabel = eval_files["nolabel_json"].parent / "nolabel.tsv"
    assert flat(result.stderr) == flat(
        f"Error: Task 'nolabel': the train file '{nolabel}' has no label column 'label'; its columns are: id, text. "
        "Name the label column with label_field, or use a .tsv/.csv/.jsonl file that holds labels."
    )
    assert not (tmp_path / "o").exists()  # failed before any model work or output


def test_cli_unknown_task(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        eval_files["domain"],
        "--task",
        "kosentiment",
        "-o",
        tmp_path / "o",
    )
    assert result.exit_code == 2
    assert flat(result.stderr) == flat(
        "Error: Unknown task 'kosentiment'. Built-in tasks: nsmc, shopping; or pass a .json/.yaml file holding a task "
        "(name, train, test, label_field, label_map)."
    )


def test_cli_missing_model(cli, tiny_mlm_dir, eval_files, tmp_path):
    missing = tmp_path / "nope"
    result = cli(
        "evaluate", "--before", tiny_mlm_dir, "--after", missing, "--domain", eval_files["domain"], "-o", tmp_path / "o"
    )
    assert result.exit_code == 2
    assert flat(result.stderr) == (
        f"Error: The after model: The model directory '{missing}' does not exist. Check the path passed as --after."
    )


def test_cli_warns_on_overlap_with_training_text(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    domain = eval_files["domain"]
    n = len(set(domain.read_text(encoding="utf-8").split("\n")) - {""})
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        domain,
        "--train-corpus",
        domain,
        "-o",
        tmp_path / "o",
        "--no-card",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    scored = min(n, 40)
    assert flat(
        f"Warning: {scored} of {scored} held-out domain texts (100.0%) also occur in the training corpus given: the "
        "domain "
        "gain is inflated by memorisation. Evaluate on text held out from training (e.g. `domainlm corpus clean "
        "--heldout-fraction`)."
    ) in flat(result.stderr)
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    assert report["overlap"] == {
        "overlapping_texts": scored,
        "texts": scored,
        "checked_against": "the training corpus given",
    }


def test_overlap_found_through_recorded_training_corpus(tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    """No --train-corpus: the after model's settings.json names its corpus; its own held-out docs do not count."""
    from domainlm.evaluation.run import _overlap
    from domainlm.evaluation.texts import load_texts

    after = tmp_path / "after"
    after.mkdir()
    (after / "settings.json").write_text(
        json.dumps({"corpus": [str(eval_files["domain"])], "train": {"heldout_fraction": 0.3}}), encoding="utf-8"
    )
    sample = load_texts(eval_files["domain"], max_texts=1000, seed=0, what="held-out domain")
    info, warnings = _overlap(sample, after, None)
    assert 0 < info["overlapping_texts"] < len(sample)  # about 70% were trained on
    assert info["checked_against"].startswith("the training corpus named in")
    assert warnings and "held-out domain texts" in warnings[0]


def test_cli_warns_when_normalisation_differs(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    after = tmp_path / "after_nfd"
    shutil.copytree(filled_mlm_dir, after)
    # The Hangul-to-jamo trap of DESIGN.md; transformers rebuilds the normaliser from tokenizer_config.json.
    for name, edit in (
        ("tokenizer.json", lambda d: d["normalizer"].update(strip_accents=True)),
        ("tokenizer_config.json", lambda d: d.update(strip_accents=True)),
    ):
        data = json.loads((after / name).read_text(encoding="utf-8"))
        edit(data)
        (after / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        after,
        "--domain",
        eval_files["domain"],
        "-o",
        tmp_path / "o",
        "--no-card",
        *FAST,
    )
    assert result.exit_code == 0, result.output
    err = flat(result.stderr)
    assert "Warning: The before and after tokenizers normalise text differently (" in err
    assert (
        "Token counts are not like for like; MW-BPC stays comparable because it is measured per character of "
        "the same normalised eojeols."
    ) in err
    assert (
        f"Warning: The after tokenizer ({after}) decomposes Hangul into jamo (strip_accents is on): its pieces are "
        "jamo, not syllables. Set strip_accents=False in its normaliser (see docs/DESIGN.md, Known traps)."
    ) in err
    report = json.loads((tmp_path / "o" / "report.json").read_text(encoding="utf-8"))
    assert len(report["warnings"]) == 2
    assert report["mw_bpc"]["domain"]["after"]["texts"] > 0  # still measured, on the same eojeols
