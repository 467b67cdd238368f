"""docs/THREAT_MODEL.md, one test (or more) per entry: what a user receives never runs code, never
writes outside the folder the user named, and a bad one gets a clear answer.

Each payload is a harmless pickle (or Python file) that would create a marker file when run: the
tests assert the marker is NOT created and that the input is refused with a message (or, for the
cache, silently recounted). Case names (S1–S8, B7, B8, B28) are those of the review
../shared/reviews/reliability-and-security.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import shutil
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers.training import tiny_corpus, tiny_train_config

from domainlm.errors import ModelError, OutputError, TrainingError
from domainlm.pipeline.bundle import BundleError, import_bundle
from domainlm.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickling this runs `touch <marker>`: what a crafted file would do to its reader."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "a payload ran"


# ---------------------------------------------------------------- checkpoints (S1, S2)

TINY = dict(
    max_steps=4,
    batch_size=4,
    seq_len=32,
    lr=2e-3,
    warmup_ratio=0.0,
    save_every=2,
    log_every=1,
    heldout_fraction=0.05,
    eval_documents=0,
    replay_ratio=0.0,
    seed=7,
)


def _plant_checkpoint(ckpt_dir: Path, state, step: int = 2) -> Path:
    folder = ckpt_dir / f"step-{step:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "state.pt")
    return folder


def test_s1_a_crafted_checkpoint_is_refused_on_resume_and_never_run(tiny_mlm_dir, tmp_path, marker):
    from domainlm.training import adapt

    corpus = tiny_corpus(tmp_path)
    _plant_checkpoint(tmp_path / "victim.checkpoints", {"step": 2, "payload": Payload(marker)})
    with pytest.raises(TrainingError) as e:
        adapt(str(tiny_mlm_dir), tmp_path / "victim", corpus=str(corpus), config=tiny_train_config(TINY), resume=True)
    assert "was refused" in e.value.message and "posix.system" in e.value.message
    assert "Nothing in it was run" in e.value.message and "unknown origin" in e.value.hint
    assert not (tmp_path / "victim").exists()


def test_s1_checkpoints_load_as_plain_data_only(tmp_path, marker):
    """The loader itself: a payload, an older (numpy-pickling) state and a foreign dict are refused."""
    import numpy as np

    from domainlm.training.checkpoint import check_plain, load_checkpoint, rng_state, set_rng_state

    evil = _plant_checkpoint(tmp_path / "a", {"step": 2, "payload": Payload(marker)})
    with pytest.raises(TrainingError, match="was refused"):
        load_checkpoint(evil)
    old = _plant_checkpoint(tmp_path / "b", {"step": 2, "rng": {"numpy": np.random.get_state()}})
    with pytest.raises(TrainingError, match=r"was refused.*numpy"):
        load_checkpoint(old)
    foreign = _plant_checkpoint(tmp_path / "c", {"step": 2})
    with pytest.raises(TrainingError, match=r"not a domainlm checkpoint \('phase' missing"):
        load_checkpoint(foreign)
    (tmp_path / "d" / "step-000002").mkdir(parents=True)
    (tmp_path / "d" / "step-000002" / "state.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(TrainingError, match="cannot be read"):
        load_checkpoint(tmp_path / "d" / "step-000002")
    # What domainlm writes passes: the RNG states are tensors and round-trip exactly.
    state = rng_state()
    check_plain(state)
    good = _plant_checkpoint(
        tmp_path / "e",
        {
            "step": 2,
            "phase": 0,
            "micro_batches": 4,
            "tokens": 9,
            "metrics": [],
            "model": {"w": torch.ones(2)},
            "compat": {},
            "rng": state,
        },
    )
    import random

    draws = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(load_checkpoint(good)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == draws
    with pytest.raises(TypeError, match="cannot hold"):
        check_plain({"x": Payload(marker)})


def test_s1_a_real_checkpoint_resumes_under_weights_only(tiny_mlm_dir, tmp_path):
    """A checkpoint domainlm writes loads with torch.load(weights_only=True) and resumes."""
    from helpers.training import Killed, kill_at

    from domainlm.training import adapt

    corpus = tiny_corpus(tmp_path)
    config = tiny_train_config(TINY)
    with pytest.raises(Killed):
        adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=config, on_step=kill_at(3))
    state = torch.load(tmp_path / "out.checkpoints" / "step-000002" / "state.pt", weights_only=True)
    assert state["step"] == 2 and isinstance(state["rng"]["numpy"]["keys"], torch.Tensor)
    resumed = adapt(str(tiny_mlm_dir), tmp_path / "out", corpus=str(corpus), config=config, resume=True)
    assert resumed.resumed_from == 2 and resumed.steps == 4


def test_s2_recipe_run_auto_resume_refuses_a_replaced_checkpoint(tmp_path, tiny_mlm_dir, monkeypatch, marker):
    from domainlm.demo import write_demo_data
    from domainlm.pipeline import run_recipe
    from domainlm.training import engine
    from domainlm.training.checkpoint import latest_checkpoint

    data = tmp_path / "data"
    write_demo_data(data)
    shutil.copytree(tiny_mlm_dir, data / "base")
    recipe = load_recipe("tiny", ["train.max_steps=4", "train.save_every=2"], data_dir=data)
    out = tmp_path / "run"
    real_save = engine.save_checkpoint
    calls = {"n": 0}

    def save_then_kill(*args, **kwargs):  # the run is killed just after its first checkpoint
        path = real_save(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(engine, "save_checkpoint", save_then_kill)
    with pytest.raises((KeyboardInterrupt, TrainingError)):
        run_recipe(recipe, out)
    monkeypatch.setattr(engine, "save_checkpoint", real_save)
    assert json.loads((out / "stages.json").read_text())["stages"]["adapt"]["status"] == "running"
    newest = latest_checkpoint(out / "model.checkpoints")
    torch.save({"step": 2, "payload": Payload(marker)}, newest / "state.pt")  # a shared run folder, tampered
    with pytest.raises(TrainingError, match="was refused"):
        run_recipe(recipe, out)  # resumes automatically: no --resume given


# ---------------------------------------------------------------- the word-count cache (S3)


def test_s3_a_pickled_or_corrupt_cache_entry_is_recounted_and_never_run(tmp_path, monkeypatch, marker):
    from domainlm.mining import counting

    monkeypatch.setenv("DOMAINLM_CACHE", str(tmp_path / "cache"))
    corpus = tiny_corpus(tmp_path)
    first = counting.count_words_cached(str(corpus), workers=1)
    entries = list((tmp_path / "cache" / "word_counts").iterdir())
    assert [p.suffix for p in entries] == [".json"] and not first.cached
    again = counting.count_words_cached(str(corpus), workers=1)
    assert again.cached and again.counts == first.counts and again.documents == first.documents
    bad_entries = [
        pickle.dumps(Payload(marker)),  # a pickle: not even parsed as one
        b"\xff\xfe not json",  # garbage
        json.dumps({"format": "domainlm-word-counts", "version": 2, "counts": {"a": "1"}}).encode(),
        json.dumps({**json.loads(entries[0].read_text()), "counts": {"a": -3}}).encode(),
    ]
    for bad in bad_entries:
        entries[0].write_bytes(bad)
        recounted = counting.count_words_cached(str(corpus), workers=1)
        assert not recounted.cached and recounted.counts == first.counts
        assert counting.read_cached_counts(entries[0]) is not None  # rewritten as a valid entry
    assert "import pickle" not in Path(counting.__file__).read_text()


# ---------------------------------------------------------------- bundles (S4–S7, B7, B8, B28)


@pytest.fixture(scope="module")
def recipe_yaml(tmp_path_factory) -> bytes:
    from domainlm.recipes import dump_recipe

    return dump_recipe(load_recipe("tiny", data_dir=tmp_path_factory.mktemp("data")), portable=True).encode("utf-8")


def make_bundle(
    path: Path,
    recipe_yaml: bytes,
    *,
    name="tiny",
    root: str | None = None,
    manifest: dict | None = None,
    files: dict[str, bytes] | None = None,
    raw_manifest: bytes | None = None,
    streams=(),
) -> Path:
    """A bundle with correct checksums for whatever it holds (an attacker can always write those)."""
    files = {
        "recipe.yaml": recipe_yaml,
        "terms.tsv": "term\tkind\tscore\n보습력\tword\t1.0\n".encode(),
        **(files or {}),
    }
    meta = {
        "format": 1,
        "name": name,
        "category": "화장품",
        "aliases": [],
        "base": "./base",
        "base_vocab_sha256": "0" * 64,
        "includes_model": False,
        **(manifest or {}),
    }
    files["bundle.json"] = raw_manifest if raw_manifest is not None else json.dumps(meta).encode()
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(files.items()))
    files["checksums.sha256"] = sums.encode()
    root = root if root is not None else (name if isinstance(name, str) and name else "tiny")
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for n, d in files.items():
            info = tarfile.TarInfo(f"{root}/{n}")
            info.size = len(d)
            tar.addfile(info, io.BytesIO(d))
        for n, size, stream in streams:
            info = tarfile.TarInfo(f"{root}/{n}")
            info.size = size
            tar.addfile(info, stream)
    return path


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """The user's current folder (where `recipe import` without -o unpacks)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def _import(bundle: Path, out=None, **kw):
    return import_bundle(bundle, out, check_base=False, **kw)


def test_a_valid_bundle_unpacks_into_the_current_folder(tmp_path, work, recipe_yaml):
    imported = _import(make_bundle(tmp_path / "ok.tar.gz", recipe_yaml))
    assert imported.out_dir == work / "tiny" and (work / "tiny" / "terms.tsv").is_file()
    again = _import(make_bundle(tmp_path / "ok.tar.gz", recipe_yaml))  # an earlier import is replaced
    assert again.out_dir == work / "tiny"


@pytest.mark.parametrize("name", ["../ESCAPE_name", "ABS", "ssh"])
def test_s4_s5_s6_the_bundle_name_is_never_a_path(tmp_path, work, recipe_yaml, name):
    home = tmp_path / "fakehome" / ".ssh"
    home.mkdir(parents=True)
    chosen = {"ABS": str(tmp_path / "ESCAPE_name_abs"), "ssh": str(home)}.get(name, name)
    bundle = make_bundle(
        tmp_path / "b.tar.gz",
        recipe_yaml,
        name=chosen,
        root="tiny",
        files={"authorized_keys": b"ssh-ed25519 AAAA attacker"} if name == "ssh" else None,
    )
    with pytest.raises(BundleError) as e:
        _import(bundle)
    assert "not a valid domainlm bundle" in e.value.message
    assert not (tmp_path / "ESCAPE_name").exists() and not (tmp_path / "ESCAPE_name_abs").exists()
    assert list(home.iterdir()) == [] and list(work.iterdir()) == []


def test_s4_a_name_that_is_a_path_is_refused_even_when_its_folder_agrees(tmp_path, work, recipe_yaml):
    for name in ("../x", ".ssh", "a/b", "/etc", "~", "x" * 65):
        bundle = make_bundle(tmp_path / "b.tar.gz", recipe_yaml, name=name, root=name.strip("/").split("/")[-1] or "x")
        with pytest.raises(BundleError, match="not a valid domainlm bundle"):
            _import(bundle)
    assert list(work.iterdir()) == []


def test_s6_files_a_bundle_does_not_document_are_refused(tmp_path, work, recipe_yaml):
    for extra in ("authorized_keys", "model.py", "report/evil.sh", "sub/terms.tsv"):
        with pytest.raises(BundleError, match=f"the entry 'tiny/{re.escape(extra)}' is not a file a bundle holds"):
            _import(make_bundle(tmp_path / "b.tar.gz", recipe_yaml, files={extra: b"x"}))
    assert list(work.iterdir()) == []


def test_s7_force_applies_only_to_a_folder_the_user_named(tmp_path, work, recipe_yaml, cli):
    victim = tmp_path / "victimdir"
    victim.mkdir()
    (victim / "thesis.txt").write_text("years of work")
    bundle = make_bundle(tmp_path / "v.tar.gz", recipe_yaml, name=str(victim), root="tiny")
    with pytest.raises(BundleError):
        _import(bundle, force=True)
    assert (victim / "thesis.txt").read_text() == "years of work"
    # A valid name that happens to be a folder of the user's, in the current folder: never replaced
    # by --force without -o; the message says how to name it.
    mine = work / "tiny"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    good = make_bundle(tmp_path / "g.tar.gz", recipe_yaml)
    with pytest.raises(BundleError, match="--force replaces only a folder you name"):
        _import(good, force=True)
    with pytest.raises(OutputError) as e:
        _import(good)
    assert "-o tiny --force" in e.value.hint
    assert (mine / "thesis.txt").exists()
    r = cli("recipe", "import", good, "--no-check-base", "--force")
    assert r.exit_code == 2 and "--force replaces only a folder you name" in r.output and (mine / "thesis.txt").exists()
    # Named by the user: --force replaces it.
    assert cli("recipe", "import", good, "--no-check-base", "-o", "tiny", "--force").exit_code == 0
    assert not (mine / "thesis.txt").exists() and (mine / "terms.tsv").exists()


@pytest.mark.parametrize(
    "name, expected",
    [
        (".", "'.' is not a recipe name"),
        ("", "'' is not a recipe name"),
        (123, "123 (a int, not text) is not a recipe name"),
        (None, "None (a NoneType, not text)"),
    ],
)
def test_b7_a_bundle_name_that_is_not_a_name_is_a_bundle_error(tmp_path, work, recipe_yaml, name, expected):
    with pytest.raises(BundleError) as e:
        _import(make_bundle(tmp_path / "b.tar.gz", recipe_yaml, name=name, root="tiny"))
    assert expected in e.value.message and "Nothing was imported" in e.value.message


def test_b8_malformed_manifest_recipe_or_checksums_are_bundle_errors(tmp_path, work, recipe_yaml, marker):
    evil_yaml = f"!!python/object/apply:os.system ['touch {marker}']\n".encode()
    cases = [
        (dict(files={"recipe.yaml": evil_yaml}), "recipe.yaml is not plain YAML"),
        (dict(files={"recipe.yaml": "name: 화장품\n".encode("cp949")}), "recipe.yaml is not UTF-8 text"),
        (dict(files={"recipe.yaml": b"- a list\n"}), "recipe.yaml is not a recipe"),
        (dict(raw_manifest=b"{not json"), "bundle.json is not valid JSON"),
        (dict(raw_manifest=b"[1, 2]"), "bundle.json is not a JSON object"),
        (dict(manifest={"category": 5}), "no text field 'category'"),
        (dict(name="other"), "its recipe.yaml is the recipe 'tiny', its bundle.json says 'other'"),
        (dict(root="other"), "names it 'tiny' but its folder is 'other'"),
    ]
    for kwargs, expected in cases:
        with pytest.raises(BundleError) as e:
            _import(make_bundle(tmp_path / "b.tar.gz", recipe_yaml, **kwargs))
        assert expected in e.value.message, (kwargs, e.value.message)
    bundle = make_bundle(tmp_path / "b.tar.gz", recipe_yaml)

    def broken_sums(m, data):
        return (m, b"not a checksum line\n") if m.name.endswith("checksums.sha256") else (m, data)

    with pytest.raises(BundleError, match="line 1 of its checksums.sha256"):
        _import(_rewrite(bundle, tmp_path / "c.tar.gz", broken_sums))
    assert list(work.iterdir()) == []


def _rewrite(archive: Path, out: Path, change) -> Path:
    with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
        for m in src.getmembers():
            m, data = change(m, src.extractfile(m).read() if m.isfile() else None)
            m.size = len(data) if data is not None else 0
            dst.addfile(m, io.BytesIO(data) if data is not None else None)
    return out


class _Zeros(io.RawIOBase):
    """`size` zero bytes, streamed: a tar bomb's member without holding it in memory."""

    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n


def test_b28_a_tar_bomb_and_a_bundle_of_many_files_are_refused_before_unpacking(
    tmp_path, work, recipe_yaml, monkeypatch
):
    import tempfile

    unpacked = []
    real = tempfile.TemporaryDirectory

    def spy(*a, **k):
        d = real(*a, **k)
        unpacked.append(Path(d.name))
        return d

    monkeypatch.setattr(tempfile, "TemporaryDirectory", spy)
    size = 96 << 20  # 96 MiB of zeros: about 0.4 MiB of gzip
    bomb = make_bundle(tmp_path / "bomb.tar.gz", recipe_yaml, streams=[("model/model.safetensors", size, _Zeros(size))])
    with pytest.raises(BundleError, match="a compression bomb"):
        _import(bomb)
    big_terms = make_bundle(tmp_path / "terms.tar.gz", recipe_yaml, streams=[("terms.json", size, _Zeros(size))])
    with pytest.raises(BundleError, match=r"terms.json' is 96 MiB, over the 64 MiB"):
        _import(big_terms)
    many = tmp_path / "many.tar.gz"
    with tarfile.open(many, "w:gz", compresslevel=1) as tar:
        for i in range(20_000):
            info = tarfile.TarInfo(f"tiny/model/f{i:05d}.txt")
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(BundleError, match="more than 1,000 entries"):
        _import(many)
    assert unpacked and all(not any(d.rglob("*")) for d in unpacked if d.exists())
    assert list(work.iterdir()) == []


def test_export_never_ships_a_link_of_a_received_run_folder(tmp_path):
    """A run folder someone shared may hold a link to a secret: export refuses it, it never reads the target."""
    from domainlm.pipeline.bundle import export_bundle

    secret = tmp_path / "id_ed25519"
    secret.write_text("PRIVATE KEY")
    run = tmp_path / "run"
    (run / "mine").mkdir(parents=True)
    (run / "mine" / "terms.tsv").symlink_to(secret)
    (run / "fill").mkdir()
    (run / "fill" / "fill.json").write_text(json.dumps({"base_vocab_sha256": "0" * 64}))
    with pytest.raises(BundleError, match="is a symbolic link"):
        export_bundle(load_recipe("tiny", data_dir=tmp_path), run, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()


def test_a_bundle_import_says_it_is_integrity_checked_not_authenticated():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "integrity-checked, not authenticated" in readme
    threat = (REPO / "docs" / "THREAT_MODEL.md").read_text(encoding="utf-8")
    assert "not authenticated" in threat


# ---------------------------------------------------------------- model folders (S8)

EVIL_PY = """
from pathlib import Path
Path({marker!r}).touch()
from transformers import BertConfig, BertForMaskedLM
class EvilConfig(BertConfig):
    model_type = "evilbert"
class EvilModel(BertForMaskedLM):
    config_class = EvilConfig
"""


def _remote_code_folder(
    tiny_mlm_dir: Path, tmp_path: Path, marker: Path, file: str = "config.json", model_type: str = "evilbert"
) -> Path:
    folder = tmp_path / "remote"
    shutil.copytree(tiny_mlm_dir, folder)
    config = json.loads((folder / file).read_text())
    config["auto_map"] = {
        "AutoConfig": "evil.EvilConfig",
        "AutoModelForMaskedLM": "evil.EvilModel",
        "AutoModelForSequenceClassification": "evil.EvilModel",
    }
    if file == "config.json":
        config["model_type"] = model_type
    else:
        config["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    (folder / file).write_text(json.dumps(config))
    (folder / "evil.py").write_text(EVIL_PY.format(marker=str(marker)))
    return folder


def _no_prompt(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("transformers asked whether to run the model's code")

    monkeypatch.setattr("builtins.input", refuse)


def test_s8_a_model_folder_with_an_auto_map_is_refused(tiny_mlm_dir, tmp_path, marker, monkeypatch, cli):
    from domainlm.modeling.loading import load_base, load_hf_tokenizer

    _no_prompt(monkeypatch)
    remote = _remote_code_folder(tiny_mlm_dir, tmp_path, marker)
    with pytest.raises(ModelError) as e:
        load_base(str(remote))
    assert "asks to run its own Python code" in e.value.message and "evil.EvilConfig" in e.value.message
    r = cli(
        "adapt",
        "--base",
        remote,
        "--corpus",
        tiny_corpus(tmp_path),
        "-o",
        tmp_path / "out",
        "--max-steps",
        "1",
        input="y\n",
    )
    assert r.exit_code == 2 and "asks to run its own Python code" in r.output
    shutil.rmtree(remote)
    tok_remote = _remote_code_folder(tiny_mlm_dir, tmp_path, marker, file="tokenizer_config.json")
    with pytest.raises(ModelError, match="tokenizer_config.json has an auto_map"):
        load_hf_tokenizer(str(tok_remote))


def test_s8_finetune_refuses_a_remote_code_model(tiny_mlm_dir, tmp_path, marker, monkeypatch):
    from domainlm.finetune.loop import check_model

    _no_prompt(monkeypatch)
    remote = _remote_code_folder(tiny_mlm_dir, tmp_path, marker)
    with pytest.raises(ModelError, match="asks to run its own Python code"):
        check_model(str(remote), SimpleNamespace(task=None), 64)


def test_s8_transformers_is_told_never_to_run_model_code(tiny_mlm_dir, tmp_path, marker, monkeypatch):
    """Past domainlm's own check (a model it cannot see beforehand), transformers refuses, no prompt."""
    from domainlm.modeling import loading

    _no_prompt(monkeypatch)
    monkeypatch.setattr(loading, "refuse_remote_code", lambda *a, **k: None)
    remote = _remote_code_folder(tiny_mlm_dir, tmp_path, marker)
    with pytest.raises(ModelError):
        loading.load_base(str(remote))


def test_no_loader_in_the_package_can_run_code():
    """A guard on the source: the calls that execute what a file says never come back, and every
    transformers Auto* load (and datasets' load_dataset) says trust_remote_code=False."""
    executes = re.compile(
        r"weights_only\s*=\s*False|pickle\.loads?\(|trust_remote_code\s*=\s*True|"
        r"yaml\.(unsafe_)?load\(|torch\.load\((?![^)]*weights_only=True)"
    )
    auto_load = re.compile(r"\bAuto\w*\.from_pretrained\(|\bload_dataset\(")
    offenders = []
    for root in ("domainlm", "vocab_tools"):
        for file in sorted((REPO / root).rglob("*.py")):
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("#")[0].strip()
                if code.startswith(('"', "'", 'f"')):
                    continue  # text (a model card's example, a hint), not a call
                if executes.search(code) or auto_load.search(code) and "trust_remote_code=False" not in code:
                    offenders.append(f"{file.relative_to(REPO)}:{number}: {code}")
    assert offenders == []
