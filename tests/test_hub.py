"""From adapted model to the Hub: the card's hub metadata (model-index, lineage), `evaluate` writing
beside the model, and `domainlm push` / `--push-to-hub` (file selection and every error path).

The network is never reached: huggingface_hub's HfApi calls are replaced by recorders, and offline
mode and a missing token are simulated.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from helpers.training import tiny_corpus, tiny_train_config

TERMS = ["수분크림", "발림성", "가성비"]
REPO = "me/cosmetics-bert"
# What a user of an adapted model needs (and nothing else): `domainlm push`'s selection of it.
MODEL_FILES = [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "README.md",
    "slots.json",
    "settings.json",
    "versions.json",
    "metrics.jsonl",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return tiny_corpus(tmp_path_factory.mktemp("hub_corpus"), limit=300)


@pytest.fixture(scope="module")
def adapted(tiny_mlm_dir, corpus, tmp_path_factory) -> Path:
    """A real `adapt` output (slots filled and initialised, no training steps: fast)."""
    from domainlm.training import adapt

    config = tiny_train_config(
        dict(batch_size=2, seq_len=32, heldout_fraction=0.05, eval_documents=20, replay_ratio=0.0, seed=3), max_steps=0
    )
    out = tmp_path_factory.mktemp("hub_adapted") / "cosmetics-bert"
    return adapt(str(tiny_mlm_dir), out, corpus=str(corpus), terms=TERMS, config=config, category="화장품").out_dir


@pytest.fixture
def model(adapted, tmp_path) -> Path:
    """A copy of the adapted model that a test may change."""
    return Path(shutil.copytree(adapted, tmp_path / adapted.name))


@pytest.fixture
def online(monkeypatch):
    """The hub reachable in principle (offline mode off) with a token; every HfApi call recorded, none sent."""
    import huggingface_hub
    from huggingface_hub import HfApi, ModelCard

    calls: dict[str, dict] = {}

    def recorder(name, value=None):
        def call(self, *args, **kwargs):
            calls[name] = {"args": args, **kwargs}
            return value

        return call

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    monkeypatch.setattr(HfApi, "create_repo", recorder("create_repo", f"https://huggingface.co/{REPO}"))
    monkeypatch.setattr(HfApi, "create_branch", recorder("create_branch"))
    commit = SimpleNamespace(commit_url=f"https://huggingface.co/{REPO}/commit/1")
    monkeypatch.setattr(HfApi, "create_commit", recorder("create_commit", commit))
    monkeypatch.setattr(
        ModelCard, "validate", lambda self, repo_type=None: calls.setdefault("validate", {"card": str(self)})
    )
    return calls


def _flat(text: str) -> str:
    return " ".join(text.split())


def _card(model: Path):
    from huggingface_hub import ModelCard

    return ModelCard.load(model / "README.md")  # strict: a model-index it cannot read raises


# ---------------------------------------------------------------- which files go up


def test_files_to_push_are_the_model_tokenizer_card_and_records_only(model):
    from domainlm.hub import files_to_push

    # What accumulates in and around a model folder and must never be published.
    (model / ".lock").write_text("")
    for junk in (
        "evaluation/report.md",
        "evaluation/metrics.png",
        "checkpoint-5/model.safetensors",
        "notes.txt",
        ".cache/huggingface/upload/x.metadata",
        "model.safetensors.tmp",
        "generator/optimizer.pt",
        "out.check/benchmark.json",
    ):
        (model / junk).parent.mkdir(parents=True, exist_ok=True)
        (model / junk).write_text("x")
    (model.parent / f"{model.name}.checkpoints" / "step-000001").mkdir(parents=True)
    assert (model / ".domainlm.json").is_file()
    assert files_to_push(model) == MODEL_FILES


def test_files_to_push_takes_generator_adapter_shards_and_recipe(model):
    from domainlm.hub import files_to_push

    for name in (
        "generator/config.json",
        "generator/model.safetensors",
        "generator/vocab.txt",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "adapter/filled_rows.safetensors",
        "adapter/tokenizer.json",
        "recipe.resolved.yaml",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ):
        (model / name).parent.mkdir(exist_ok=True)
        (model / name).write_text("x")
    # A sharded checkpoint's index names its shards; a name leaving the folder is never followed.
    (model / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "weight_map": {
                    "a": "model-00001-of-00002.safetensors",
                    "b": "model-00002-of-00002.safetensors",
                    "c": "../secret",
                }
            }
        )
    )
    files = files_to_push(model)
    assert set(MODEL_FILES) <= set(files) and len(files) == len(set(files))
    assert set(files) - set(MODEL_FILES) == {
        "model.safetensors.index.json",
        "recipe.resolved.yaml",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "generator/config.json",
        "generator/model.safetensors",
        "generator/vocab.txt",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "adapter/filled_rows.safetensors",
        "adapter/tokenizer.json",
    }


def test_push_uploads_exactly_the_selected_files(model, online):
    from domainlm.hub import push_model

    (model / "evaluation").mkdir()
    (model / "evaluation" / "report.md").write_text("a report")
    result = push_model(model, REPO, private=True, revision="v1")
    assert online["create_repo"]["args"] == (REPO,) and online["create_repo"]["private"] is True
    assert online["create_repo"]["exist_ok"] is True
    assert online["create_branch"]["args"] == (REPO,) and online["create_branch"]["branch"] == "v1"
    upload = online["create_commit"]
    assert upload["args"][0] == REPO and upload["revision"] == "v1" and upload["repo_type"] == "model"
    operations = {op.path_in_repo: op.path_or_fileobj for op in upload["args"][1]}
    assert list(operations) == MODEL_FILES == result.files
    # Files go up from the folder itself, except the records that name local paths (next test).
    assert all(
        operations[f] == str(model / f) for f in MODEL_FILES if f not in ("settings.json", "recipe.resolved.yaml")
    )
    assert result.url == f"https://huggingface.co/{REPO}" and result.commit_url.endswith("/commit/1")
    # The card was checked by the hub's validator before the repo was created.
    assert list(online)[:2] == ["validate", "create_repo"]


def _pushed_text(operations, name: str) -> str:
    (content,) = [op.path_or_fileobj for op in operations if op.path_in_repo == name]
    return content.decode("utf-8") if isinstance(content, bytes) else Path(content).read_text(encoding="utf-8")


def test_records_go_up_without_the_paths_of_this_machine_and_the_folder_is_unchanged(model, online):
    import yaml

    from domainlm.hub import push_model

    settings = model / "settings.json"
    record = json.loads(settings.read_text(encoding="utf-8"))
    record |= {"base": "/home/kim/models/bert-base", "corpus": ["/home/kim/data/리뷰.tsv", "rel/kept.txt"]}
    record["hub_base"] = "kykim/bert-kor-base"
    settings.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    (model / "recipe.resolved.yaml").write_text(
        "# Data root: /home/kim/data\nname: x\nbase: /home/kim/models/bert-base\ndata:\n  domain:\n  - path: "
        "C:\\Users\\kim\\r.tsv\n",
        encoding="utf-8",
    )
    before = {f: (model / f).read_bytes() for f in ("settings.json", "recipe.resolved.yaml")}
    result = push_model(model, REPO)
    operations = online["create_commit"]["args"][1]
    pushed = json.loads(_pushed_text(operations, "settings.json"))
    assert pushed["base"] == ".../bert-base" and pushed["corpus"] == [".../리뷰.tsv", "rel/kept.txt"]
    assert pushed["hub_base"] == "kykim/bert-kor-base"  # a hub id is not a local path
    recipe_text = _pushed_text(operations, "recipe.resolved.yaml")
    assert "/home/kim" not in recipe_text and "Users" not in recipe_text
    assert yaml.safe_load(recipe_text) == {
        "name": "x",
        "base": ".../bert-base",
        "data": {"domain": [{"path": ".../r.tsv"}]},
    }
    assert "recipe.resolved.yaml" in result.files
    assert {f: (model / f).read_bytes() for f in before} == before  # what is on disk stays as it was


def test_push_without_revision_creates_no_branch(model, online):
    from domainlm.hub import push_model

    push_model(model, REPO)
    assert "create_branch" not in online and online["create_commit"]["revision"] is None
    assert online["create_repo"]["private"] is False


# ---------------------------------------------------------------- errors, without a traceback


def test_offline_push_names_hf_auth_login_and_hf_token(cli, model, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    before = (model / "README.md").read_text(encoding="utf-8")
    r = cli("push", model, REPO)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert _flat(r.stderr) == _flat(
        "Error: Cannot push: offline mode is on (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set). Unset HF_HUB_OFFLINE "
        "and TRANSFORMERS_OFFLINE on a machine that reaches huggingface.co. Log in with `hf auth login`, or set "
        "HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens), or pass --token."
    )
    assert (model / "README.md").read_text(encoding="utf-8") == before  # nothing changed before the refusal


def test_push_without_a_token(cli, model, monkeypatch):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    r = cli("push", model, REPO)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert _flat(r.stderr).startswith(
        "Error: Cannot push: no Hugging Face token (not logged in, and HF_TOKEN is not set)."
    )
    assert "`hf auth login`" in r.stderr and "HF_TOKEN" in r.stderr


def _raise(error):
    def call(self, *args, **kwargs):
        raise error

    return call


def _http_error(status: int):
    from huggingface_hub.errors import HfHubHTTPError

    return HfHubHTTPError(
        f"{status} Client Error for url https://huggingface.co/api/repos/create",
        response=SimpleNamespace(status_code=status, headers={}, request=None),
    )


@pytest.mark.parametrize(
    "error, expected",
    [
        ("http401", "Error: The Hugging Face Hub rejected the token (401 Unauthorized)"),
        ("http403", f"Error: The token may not write to '{REPO}' (403 Forbidden)"),
        ("offline", "Error: Cannot push: offline mode is on (HF_HUB_OFFLINE is set)."),
        ("network", "Error: Cannot reach the Hugging Face Hub: [Errno -2] Name or service not known."),
    ],
)
def test_hub_failures_are_one_message(cli, model, online, monkeypatch, error, expected):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import OfflineModeIsEnabled

    from domainlm.hub import _transport_errors

    errors = {
        "http401": _http_error(401),
        "http403": _http_error(403),
        "offline": OfflineModeIsEnabled("Cannot reach https://huggingface.co/api/repos/create: offline mode"),
        "network": _transport_errors()[0]("[Errno -2] Name or service not known"),
    }
    monkeypatch.setattr(HfApi, "create_repo", _raise(errors[error]))
    r = cli("push", model, REPO)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert _flat(r.stderr).startswith(expected), r.stderr
    if error.startswith("http"):
        assert "hf auth login" in r.stderr and "HF_TOKEN" in r.stderr


def test_a_card_the_hub_refuses_creates_no_repo(model, online, monkeypatch):
    from huggingface_hub import ModelCard

    from domainlm.hub import HubError, push_model

    def refuse(self, repo_type=None):
        raise ValueError('"license" must be one of [apache-2.0, mit, …]')

    monkeypatch.setattr(ModelCard, "validate", refuse)
    with pytest.raises(HubError, match="refused the model card's metadata"):
        push_model(model, REPO)
    assert "create_repo" not in online


def test_not_a_model_folder_and_bad_repo_id(cli, model, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("push", empty, REPO, "--dry-run")
    assert r.exit_code == 2 and "holds no model weights" in _flat(r.stderr)
    r = cli("push", model, "a/b/c", "--dry-run")
    assert r.exit_code == 2 and "'a/b/c' is not a hub repo id" in _flat(r.stderr)


def test_dry_run_lists_the_files_offline_and_changes_nothing(cli, model):
    before = (model / "README.md").read_text(encoding="utf-8")
    r = cli("push", model, REPO, "--dry-run", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["files"] == MODEL_FILES and data["dry_run"] is True and data["url"] is None
    assert data["card"] == {"base_model": None, "license": None, "results": 0}
    assert (model / "README.md").read_text(encoding="utf-8") == before


# ---------------------------------------------------------------- the card's hub metadata


def _with_base(model: Path, base: str) -> Path:
    settings = json.loads((model / "settings.json").read_text(encoding="utf-8"))
    (model / "settings.json").write_text(json.dumps({**settings, "base": base}), encoding="utf-8")
    return model


def _hub_snapshot(tiny_mlm_dir: Path, root: Path, license: str = "apache-2.0") -> Path:
    """A copy of a base as the Hugging Face cache keeps a download (with the model's own card)."""
    snap = root / "hub" / "models--kykim--bert-kor-base" / "snapshots" / "0123abc"
    shutil.copytree(tiny_mlm_dir, snap)
    (snap / "README.md").write_text(f"---\nlicense: {license}\nlanguage: ko\n---\n# bert-kor-base\n", encoding="utf-8")
    return snap


def test_lineage_of_a_hub_base_a_cached_download_and_an_adapted_base(model, tiny_mlm_dir, tmp_path, online):
    from domainlm.card import refresh_card_metadata
    from domainlm.hub import push_model

    snap = _hub_snapshot(tiny_mlm_dir, tmp_path)
    _with_base(model, str(snap))
    push_model(model, REPO)
    data = _card(model).data
    assert data.base_model == "kykim/bert-kor-base" and data.license == "apache-2.0"
    assert "Base model: `kykim/bert-kor-base` on the Hugging Face Hub" in _card(model).text
    assert online["validate"]["card"] == (model / "README.md").read_text(encoding="utf-8")  # the card as pushed

    # Adapted again from that model: the nearest hub ancestor and its license.
    again = Path(shutil.copytree(model, tmp_path / "again"))
    (again / "README.md").write_text("---\nlanguage: ko\n---\n# again\n", encoding="utf-8")
    _with_base(again, str(model))
    card = refresh_card_metadata(again)
    assert "base_model: kykim/bert-kor-base" in card and "license: apache-2.0" in card
    assert "itself adapted by `domainlm adapt` from:" in card
    # A hub id given as the base (not a local folder) is the base_model as it is.
    assert "base_model: kykim/bert-kor-base" in refresh_card_metadata(_with_base(again, "kykim/bert-kor-base"))


def test_lineage_of_a_pretrained_base_and_a_person_set_license(model, tmp_path):
    from domainlm.card import refresh_card_metadata

    base = tmp_path / "pretrained"
    base.mkdir()
    (base / "settings.json").write_text(json.dumps({"command": "pretrain"}), encoding="utf-8")
    card = refresh_card_metadata(_with_base(model, str(base)))
    assert "pretrained from scratch by `domainlm pretrain`" in card and "\nbase_model:" not in card
    # A license a person wrote into the card stays.
    text = (model / "README.md").read_text(encoding="utf-8").replace("language: ko", "language: ko\nlicense: mit", 1)
    (model / "README.md").write_text(text, encoding="utf-8")
    snap = _hub_snapshot(base, tmp_path / "cache")
    refresh_card_metadata(_with_base(model, str(snap)))
    data = _card(model).data
    assert data.license == "mit" and data.base_model == "kykim/bert-kor-base"
    assert _card(model).text.count("<!-- domainlm:lineage:start -->") == 1


def test_fine_tuning_scores_go_into_the_model_index(model):
    from domainlm.card import update_model_card
    from domainlm.finetune.report import card_results
    from domainlm.tasks import BUILTIN_TASKS

    def result(mean):
        return SimpleNamespace(
            tasks=[BUILTIN_TASKS["nsmc"], BUILTIN_TASKS["klue-ner"]],
            results={("adapted", "nsmc"): SimpleNamespace(summary={"n": 3, "mean": mean})},
        )

    update_model_card(
        model,
        "## Fine-tuning\n\nnsmc 80.00",
        markers=("<!-- ft:start -->", "<!-- ft:end -->"),
        results=card_results(result(0.8), "adapted"),
    )
    update_model_card(
        model,
        "## Fine-tuning\n\nnsmc 81.00",
        markers=("<!-- ft:start -->", "<!-- ft:end -->"),
        results=card_results(result(0.81), "adapted"),
    )
    [entry] = _card(model).data.eval_results  # measured again: replaced, not added
    assert (entry.task_type, entry.dataset_type, entry.metric_type, entry.metric_value) == (
        "text-classification",
        "e9t/nsmc",
        "accuracy",
        0.81,
    )
    assert entry.metric_name == "acc, mean of 3 seed(s)" and "NSMC" in entry.dataset_name
    assert _card(model).data.model_name == model.name


def test_front_matter_huggingface_hub_cannot_read_is_an_error_not_dropped(model):
    from domainlm.card import update_model_card
    from domainlm.errors import ModelError

    broken = "---\nlanguage: ko\nmodel-index:\n- results: [1]\n---\n# hand-written\n"
    (model / "README.md").write_text(broken, encoding="utf-8")
    with pytest.raises(ModelError, match="front matter huggingface_hub cannot read"):
        update_model_card(model, "## Evaluation", results=_one_result())
    assert (model / "README.md").read_text(encoding="utf-8") == broken


def _one_result() -> list:
    from huggingface_hub import EvalResult

    return [
        EvalResult(
            task_type="fill-mask",
            dataset_type="heldout.txt",
            dataset_name="held-out",
            metric_type="mw_bpc",
            metric_value=1.5,
        )
    ]


# ---------------------------------------------------------------- evaluate writes beside the model


def test_evaluate_writes_its_report_beside_the_model_and_summarises_it_in_the_card(
    cli, tiny_mlm_dir, filled_mlm_dir, eval_files, tmp_path
):
    after = Path(shutil.copytree(filled_mlm_dir, tmp_path / "after"))
    inside = sorted(p.name for p in after.iterdir())
    r = cli(
        "evaluate",
        "--before",
        tiny_mlm_dir,
        "--after",
        after,
        "--domain",
        eval_files["domain"],
        "--max-texts",
        "40",
        "--bootstrap",
        "100",
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "after.evaluation" / "report.md").is_file()
    assert sorted(p.name for p in after.iterdir()) == inside  # only README.md changed in the model folder
    card = _card(after)
    assert "Full report: `../after.evaluation/report.md` (relative to this card" in card.text
    results = {(e.metric_type, e.dataset_type): e.metric_value for e in card.data.eval_results}
    assert set(results) == {("mw_bpc", "heldout.txt"), ("mw_bpc_base", "heldout.txt"), ("mw_bpc_change", "heldout.txt")}
    assert results[("mw_bpc_change", "heldout.txt")] == pytest.approx(
        results[("mw_bpc", "heldout.txt")] - results[("mw_bpc_base", "heldout.txt")], abs=1e-5
    )
    assert str(tmp_path) not in card.content


# ---------------------------------------------------------------- --push-to-hub


def test_adapt_push_to_hub_checks_the_login_first_then_pushes_the_finished_model(
    cli, tiny_mlm_dir, corpus, tmp_path, monkeypatch, online
):
    import huggingface_hub

    args = (
        "adapt",
        "--base",
        tiny_mlm_dir,
        "--corpus",
        corpus,
        "--max-steps",
        "0",
        "--batch-size",
        "2",
        "--seq-len",
        "32",
        "--push-to-hub",
        REPO,
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    r = cli(*args, "-o", tmp_path / "refused")
    assert r.exit_code == 2 and "`hf auth login`" in r.stderr and not (tmp_path / "refused").exists()

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    r = cli(*args, "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.output
    pushed = json.loads(r.stdout[r.stdout.index("{") :])["push"]
    operations = online["create_commit"]["args"][1]
    assert pushed["repo_id"] == REPO and [op.path_in_repo for op in operations] == pushed["files"]
    assert "settings.json" in pushed["files"] and str(tmp_path) not in _pushed_text(operations, "settings.json")


def test_recipe_run_push_to_hub(cli, model, monkeypatch, online, tmp_path):
    import domainlm.pipeline
    from domainlm.pipeline.runner import RunResult

    r = cli("recipe", "run", "tiny", "--until", "mine", "--push-to-hub", REPO, "-o", tmp_path / "run")
    assert r.exit_code == 2 and "--push-to-hub needs the adapted model" in _flat(r.stderr)

    run = tmp_path / "run"
    shutil.copytree(model, run / "model")
    monkeypatch.setattr(domainlm.pipeline, "run_recipe", lambda *a, **k: RunResult(run, [], None, None, 1.0))
    r = cli("recipe", "run", "tiny", "--push-to-hub", REPO, "-o", run, "-q")
    assert r.exit_code == 0, r.output
    operations = online["create_commit"]["args"][1]
    assert {op.path_or_fileobj for op in operations if isinstance(op.path_or_fileobj, str)} <= {
        str(run / "model" / f) for f in MODEL_FILES
    }
    assert f"Pushed {len(MODEL_FILES)} files to https://huggingface.co/{REPO}" in _flat(r.stdout)
