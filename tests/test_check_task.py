"""`adapt --check-task`: did adaptation help? Base and adapted model fine-tuned on one task, paired verdict."""

from __future__ import annotations

import json

from domainlm.finetune.check import check_adaptation, likely_causes


def _task(tmp_path, shared_data):
    """A small real task: 240 rated shopping reviews, 1-2 vs 4-5 stars."""
    rows = (shared_data / "reviews" / "naver_shopping_50k.tsv").read_text(encoding="utf-8").splitlines()
    rated = [r for r in rows[1:] if r.split("\t")[1] in ("1", "2", "4", "5")][:240]
    data = tmp_path / "rated.tsv"
    data.write_text("id\trating\ttext\n" + "\n".join(rated) + "\n", encoding="utf-8")
    task = tmp_path / "stars.yaml"
    task.write_text(
        f"name: stars\ntype: single\nmetric: accuracy\ntrain: {data}\ntext_columns: [text]\n"
        "label_column: rating\nlabel_map: {'1': 0, '2': 0, '4': 1, '5': 1}\nepochs: 1\nbatch_size: 16\n"
        "max_seq_len: 32\n",
        encoding="utf-8",
    )
    return task, [r.split("\t")[2] for r in rated]


def test_check_task_gives_a_paired_verdict_in_the_output_and_the_card(cli, tiny_mlm_dir, tmp_path, shared_data):
    task, texts = _task(tmp_path, shared_data)
    corpus = tmp_path / "domain.txt"
    corpus.write_text("\n".join(texts * 3) + "\n", encoding="utf-8")
    out = tmp_path / "adapted"
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        out,
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--seq-len",
        "32",
        "--check-task",
        task,
        "--check-seeds",
        "2",
        "--json",
    )
    assert r.exit_code == 0, r.output
    check = json.loads(r.stdout[r.stdout.index("{") :])["check"]
    assert check["task"] == "stars" and check["verdict"] in ("better", "within noise", "worse")
    assert (
        check["seeds"] == [1, 2]
        and check["difference"]["low"] <= check["difference"]["value"] <= check["difference"]["high"]
    )
    assert (tmp_path / "adapted.check" / "benchmark.json").exists()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "Did adaptation help?" in card and "stars (accuracy)" in card
    # A rerun replaces its own earlier check output (no --force needed), never a user's folder.
    again = check_adaptation(tiny_mlm_dir, out, str(task), tmp_path / "adapted.check", seeds=1)
    assert again.seeds == [1]


def test_check_task_in_the_terminal_says_what_to_try(cli, tiny_mlm_dir, tmp_path, shared_data):
    task, texts = _task(tmp_path, shared_data)
    corpus = tmp_path / "domain.txt"
    corpus.write_text("\n".join(texts * 3) + "\n", encoding="utf-8")
    r = cli(
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "-o",
        tmp_path / "a",
        "--max-steps",
        "2",
        "--batch-size",
        "4",
        "--seq-len",
        "32",
        "--check-task",
        task,
        "--check-seeds",
        "1",
    )
    assert r.exit_code == 0, r.output
    assert "stars (accuracy): adapted" in r.output and "Did it help?" in r.output


def test_likely_causes_follow_the_run():
    too_many = {
        "slot_plan": {"under_threshold": ["a", "b"], "chosen": 5, "threshold": 40},
        "slots_filled": 5,
        "train": {"replay_ratio": 0.2},
    }
    assert "too many slots for the budget" in likely_causes("worse", too_many)[0]
    assert any("forgetting" in m for m in likely_causes("worse", too_many))
    filled = {"slot_plan": {"under_threshold": [], "chosen": 300}, "slots_filled": 300, "train": {"replay_ratio": 0.2}}
    assert "replace pieces the base had learned" in likely_causes("worse", filled)[0]
    assert any("no measurable gain" in m for m in likely_causes("within noise", {"train": {}}))
    assert likely_causes("better", too_many) == []
    # The news arms: a small domain corpus re-read many times (settings.json's domain_reading).
    reread = {"train": {"replay_ratio": 0.2}, "domain_reading": {"passes": 36.2}}
    assert any("read the domain text 36 times" in m for m in likely_causes("worse", reread))
    once = {"train": {"replay_ratio": 0.2}, "domain_reading": {"passes": 0.4}}
    assert not any("domain text" in m and "times" in m for m in likely_causes("worse", once))
