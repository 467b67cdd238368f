"""evaluate / recipe run report the fine-tuning suite before and after (eval.suite)."""

from __future__ import annotations

import json


def test_evaluate_runs_suite_tasks_on_both_models(tiny_mlm_dir, filled_mlm_dir, eval_files, shared_data, tmp_path):
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.evaluation.config import SuiteConfig

    config = EvalConfig(
        max_texts=30,
        bootstrap=100,
        suite=SuiteConfig(
            tasks=["nsmc"], seeds=2, max_train=48, max_dev=32, max_test=60, epochs=1, data_dir=str(shared_data)
        ),
    )
    report = evaluate(
        tiny_mlm_dir, filled_mlm_dir, tmp_path / "report", domain=eval_files["domain"], config=config, update_card=False
    )
    row = [r for r in report.rows if r.metric.startswith("fine-tuning nsmc")]
    assert len(row) == 1 and row[0].metric == "fine-tuning nsmc: accuracy" and row[0].better == "higher"
    row = row[0]
    assert row.before.n == 2 and row.after.n == 2 and 0 <= row.before.value <= 1 and 0 <= row.after.value <= 1
    assert (
        row.change.value == row.after.value - row.before.value
        or abs(row.change.value - (row.after.value - row.before.value)) < 1e-9
    )
    # The suite's own files travel inside the report folder, written in the same swap.
    bench = json.loads((tmp_path / "report" / "finetune" / "benchmark.json").read_text(encoding="utf-8"))
    assert set(bench["models"]) == {"before", "after"} and bench["comparisons"][0]["task"] == "nsmc"
    saved = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert saved["config"]["suite"]["tasks"] == ["nsmc"]
    assert any(r["metric"] == "fine-tuning nsmc: accuracy" for r in saved["summary"])
    assert "fine-tuning nsmc" in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")


def test_unknown_suite_task_is_refused_before_model_work(cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    result = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        filled_mlm_dir,
        "--domain",
        eval_files["domain"],
        "--finetune",
        "no-such-task",
        "-o",
        tmp_path / "r",
        "--max-texts",
        20,
        "--bootstrap",
        100,
    )
    assert result.exit_code == 2, result.output
    assert "no-such-task" in result.output and "nsmc" in result.output
    assert not (tmp_path / "r").exists()
    assert "MW-BPC" not in result.output  # refused while reading inputs, before any model work


def test_a_probe_task_named_in_the_suite_is_fine_tuned(tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path):
    """`eval.suite.tasks: [NAME]` where NAME is one of `eval.tasks`: that task, fine-tuned (the demo's rating)."""
    from domainlm.corpus.reader import CorpusSpec
    from domainlm.evaluation import EvalConfig, evaluate
    from domainlm.evaluation.config import SuiteConfig
    from domainlm.tasks import TaskSpec

    spec = TaskSpec(
        name="toy-sentiment",
        train=CorpusSpec(path=str(eval_files["task"]), field="text"),
        test=CorpusSpec(path=str(eval_files["task"]), field="text"),
        label_field="label",
        label_map={"0": 0, "1": 1},
        max_train=60,
        max_test=40,
        test_fraction=0.25,
    )
    config = EvalConfig(
        max_texts=20,
        bootstrap=100,
        tasks=[spec],
        suite=SuiteConfig(tasks=["toy-sentiment"], seeds=2, epochs=1, lr=1e-3),
    )
    report = evaluate(
        tiny_mlm_dir, filled_mlm_dir, tmp_path / "report", domain=eval_files["domain"], config=config, update_card=False
    )
    metrics = [r.metric for r in report.rows]
    assert "probe toy-sentiment: accuracy" in metrics and "fine-tuning toy-sentiment: accuracy" in metrics
