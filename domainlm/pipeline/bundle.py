"""Share a domain recipe: one .tar.gz with the recipe, terms, slots manifest, report and checksums.

Layout inside the archive (all under `<name>/`):
    bundle.json         what it is: recipe name, category, base, base vocabulary sha256, versions, file list
    recipe.yaml         the recipe as written (portable: paths relative to a data root)
    recipe.resolved.yaml  every setting as used in the run
    terms.tsv, terms.json, slots.json, fill.json, report.json, report.md, stages.json
    model/…             (optional) the adapted model
    checksums.sha256    sha256 of every other file, `sha256sum` format (checkable with `sha256sum -c`)

`import_bundle` verifies every checksum (a tampered or truncated bundle is refused), refuses paths
that escape the archive, and refuses a bundle whose base vocabulary differs from the base it is
imported for: its terms sit in slot ids that only mean the same thing on the same vocabulary.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from domainlm import __version__
from domainlm.errors import DomainLMError, OutputError
from domainlm.io import atomic_directory, check_output_dir, follow_umask
from vocab_tools.atomic import write_failure
from domainlm.pipeline.hashing import sha256_file
from domainlm.pipeline.layout import RunLayout

BUNDLE_FORMAT = 1
CHECKSUMS = "checksums.sha256"
MANIFEST = "bundle.json"


class BundleError(DomainLMError):
    """A recipe bundle cannot be written or is not safe / compatible to import."""


def _collect(run: RunLayout, include_model: bool) -> dict[str, Path]:
    """Archive name → file, from a `recipe run` folder (each file under its own name)."""
    wanted = [run.resolved_recipe, run.state, run.terms_tsv, run.terms_json, run.slots_json, run.fill_summary,
              run.report_json, run.report_md]
    files = {path.name: path for path in wanted if path.is_file()}
    if include_model:
        model = run.model
        if not model.is_dir():
            raise BundleError(f"--include-model was given but '{model}' holds no model.",
                              "Run the adapt stage first: domainlm recipe run NAME.")
        for f in sorted(model.rglob("*")):
            rel = f.relative_to(model)
            if f.is_file() and not any(p.startswith(("checkpoint", ".")) for p in rel.parts):
                files[f"model/{rel.as_posix()}"] = f
        for f in sorted(run.report.glob("*.png")) if run.report.is_dir() else []:
            files[f"report/{f.name}"] = f
    return files


EXPORT_COMMAND = "recipe export"
IMPORT_COMMAND = "recipe import"


def run_recipe_of(recipe, run_dir: Path):
    """The recipe a run folder was made with (its `recipe.yaml`: overrides applied), else `recipe`.

    A run made with `--set train.max_steps=200` is shared with max_steps 200, whatever the export
    command line says: the terms, slots and report in the bundle come from those settings.
    """
    from domainlm.recipes.load import load_recipe

    recorded = RunLayout(run_dir).recipe
    if not recorded.is_file():
        return recipe  # a run of an older domainlm: only the recipe as given is known
    ran = load_recipe(recorded, data_dir=recipe.data_root)
    if ran.name != recipe.name:
        raise BundleError(f"'{run_dir}' holds a run of the recipe '{ran.name}', not '{recipe.name}'.",
                          f"Export it as {ran.name} (domainlm recipe export {ran.name} --run-dir {run_dir}), "
                          "or pass the run folder of this recipe.")
    return ran


def _is_bundle(path: Path) -> bool:
    try:
        with tarfile.open(path, "r:*") as tar:
            return any(PurePosixPath(n).name == MANIFEST and len(PurePosixPath(n).parts) == 2 for n in tar.getnames())
    except (tarfile.TarError, EOFError, OSError):
        return False


def check_archive_path(archive: Path, force: bool) -> None:
    """An archive may replace a file only when that file is a bundle too (an earlier export), or with `force`."""
    if archive.is_dir():
        raise BundleError(f"The output '{archive}' is a folder.", "Name the archive file, e.g. -o movies.tar.gz.")
    if archive.exists() and not force and not _is_bundle(archive):
        raise OutputError(f"The file '{archive}' already exists and is not a domainlm bundle: `domainlm {EXPORT_COMMAND}` "
                          "would replace it.", "Choose another archive name with -o, or pass --force to replace it.")


def export_bundle(recipe, run_dir: str | os.PathLike, archive: str | os.PathLike | None = None, *,
                  include_model: bool = False, force: bool = False) -> Path:
    """Write `<archive>` (default `<name>.domainlm.tar.gz`) from a finished `recipe run` folder,
    with the recipe the run was made with (see `run_recipe_of`)."""
    from domainlm.recipes.load import dump_recipe

    run_dir = Path(run_dir)
    run = RunLayout(run_dir)
    if not run.terms_tsv.is_file():
        raise BundleError(f"'{run_dir}' holds no mined terms (mine/terms.tsv): nothing to share yet.",
                          f"Run the recipe first: domainlm recipe run {recipe.name} --output {run_dir}")
    recipe = run_recipe_of(recipe, run_dir)
    archive = Path(archive) if archive else Path(f"{recipe.name}.domainlm.tar.gz")
    check_archive_path(archive, force)
    files = _collect(run, include_model)
    fill = json.loads(run.fill_summary.read_text(encoding="utf-8")) if run.fill_summary.name in files else {}
    base_hash = fill.get("base_vocab_sha256")
    if base_hash is None:
        from vocab_tools.loading import vocab_sha256

        try:
            base_hash = vocab_sha256(recipe.base)
        except Exception as e:  # noqa: BLE001 - reported as a clear bundle error
            raise BundleError(f"Cannot read the base vocabulary of '{recipe.base}' to record in the bundle: {str(e).rstrip('.')}.",
                              "Run the fill stage (domainlm recipe run) so its hash is recorded, or make the base available.") from None
    prefix = recipe.name
    portable = dump_recipe(recipe, portable=True).encode("utf-8")
    extra = {"recipe.yaml": portable}
    checks: dict[str, str] = {name: hashlib.sha256(data).hexdigest() for name, data in extra.items()}
    checks.update({name: sha256_file(path) for name, path in files.items()})
    manifest = {
        "format": BUNDLE_FORMAT, "name": recipe.name, "category": recipe.category, "aliases": recipe.aliases,
        "base": recipe.base if not os.path.isabs(recipe.base) else Path(recipe.base).name,
        "base_vocab_sha256": base_hash, "domainlm_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "includes_model": include_model,
        "files": sorted(checks),
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    checks[MANIFEST] = hashlib.sha256(manifest_bytes).hexdigest()
    check_bytes = "".join(f"{digest}  {name}\n" for name, digest in sorted(checks.items())).encode("utf-8")

    tmp = None
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".tmp", dir=archive.parent)
        os.close(fd)
        with tarfile.open(tmp, "w:gz") as tar:
            def add_bytes(name: str, data: bytes) -> None:
                info = tarfile.TarInfo(f"{prefix}/{name}")
                info.size = len(data)
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))

            add_bytes(MANIFEST, manifest_bytes)
            add_bytes(CHECKSUMS, check_bytes)
            for name, data in extra.items():
                add_bytes(name, data)
            for name, path in files.items():
                tar.add(str(path), arcname=f"{prefix}/{name}", recursive=False)
        follow_umask(Path(tmp), directory=False)
        os.replace(tmp, archive)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        reason = write_failure(exc)
        if reason is None or isinstance(exc, OutputError):
            raise
        raise OutputError(f"Could not write '{archive}': {reason}. Nothing was replaced.",
                          "Free space on that disk or fix its permissions, or choose another archive name.") from None
    return archive


@dataclass
class ImportedBundle:
    out_dir: Path
    manifest: dict
    files: list[str]
    base_checked: bool
    base: str


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for m in members:
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
            raise BundleError(f"'{archive}' contains an unsafe entry '{m.name}' (absolute path, '..', or a link).",
                              "Do not import it; ask its author for a bundle made with `domainlm recipe export`.")
    return members


def import_bundle(archive: str | os.PathLike, out_dir: str | os.PathLike | None = None, *, base: str | None = None,
                  check_base: bool = True, overwrite: bool = False) -> ImportedBundle:
    """Verify and unpack a bundle into `out_dir` (default `./<name>`).

    Refuses: a file whose sha256 differs from checksums.sha256, a missing or unlisted file, an
    unsafe path, and — when `check_base` — a base (`base`, default the bundle's own) whose
    vocabulary hash differs from the one the bundle was made on.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BundleError(f"The bundle '{archive}' does not exist.", "Check the path.")
    if out_dir is not None:
        check_output_dir(out_dir, IMPORT_COMMAND, overwrite)  # before unpacking anything
    with tempfile.TemporaryDirectory(prefix="domainlm-bundle-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = _safe_members(tar, archive)
                tar.extractall(tmp, members=members, filter="data")
        except (tarfile.TarError, EOFError, OSError) as e:
            raise BundleError(f"'{archive}' is not a readable .tar.gz bundle: {e}.",
                              "Re-download it, or re-export it with `domainlm recipe export`.") from None
        roots = [p for p in tmp.iterdir() if p.is_dir()]
        if len(roots) != 1 or not (roots[0] / CHECKSUMS).is_file() or not (roots[0] / MANIFEST).is_file():
            raise BundleError(f"'{archive}' is not a domainlm recipe bundle (no {MANIFEST} / {CHECKSUMS}).",
                              "Make bundles with `domainlm recipe export NAME`.")
        root = roots[0]
        expected: dict[str, str] = {}
        for line in (root / CHECKSUMS).read_text(encoding="utf-8").splitlines():
            if line.strip():
                digest, _, name = line.partition("  ")
                expected[name] = digest
        present = {f.relative_to(root).as_posix() for f in root.rglob("*") if f.is_file()} - {CHECKSUMS}
        problems = []
        for name in sorted(set(expected) | present):
            if name not in expected:
                problems.append(f"{name}: not listed in {CHECKSUMS} (added after export)")
            elif name not in present:
                problems.append(f"{name}: listed but missing")
            elif sha256_file(root / name) != expected[name]:
                problems.append(f"{name}: sha256 does not match (modified after export)")
        if problems:
            raise BundleError(f"The bundle '{archive}' failed verification and was not imported:\n"
                              + "\n".join(f"  - {p}" for p in problems),
                              "It was changed or damaged after export; get a fresh copy from its author.")
        manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != BUNDLE_FORMAT:
            raise BundleError(f"'{archive}' is bundle format {manifest.get('format')}; this domainlm reads format {BUNDLE_FORMAT}.",
                              "Upgrade domainlm (pip install -U domainlm).")
        # The recipe inside must still validate against this version's schema.
        from domainlm.recipes.load import validate_data

        validate_data(yaml.safe_load((root / "recipe.yaml").read_text(encoding="utf-8")), source=f"in '{archive}'")
        target_base = base or manifest.get("base")
        base_checked = False
        if check_base:
            from vocab_tools.loading import vocab_sha256

            try:
                actual = vocab_sha256(target_base)
            except Exception as e:  # noqa: BLE001
                raise BundleError(f"Cannot read the vocabulary of the base '{target_base}' to check the bundle against: {str(e).rstrip('.')}.",
                                  "Pass --base with a local copy of the base model, or --no-check-base to skip the check.") from None
            if actual != manifest.get("base_vocab_sha256"):
                raise BundleError(
                    f"The bundle '{archive}' was made on a different base vocabulary than '{target_base}' "
                    f"(vocabulary sha256 {manifest.get('base_vocab_sha256', '?')[:12]}… vs {actual[:12]}…): "
                    "its terms would land in the wrong slots.",
                    f"Import it for the base it was made on ({manifest.get('base')}), or re-run the recipe on your base.")
            base_checked = True
        dest = Path(out_dir) if out_dir else Path(manifest["name"])
        with atomic_directory(dest, command=IMPORT_COMMAND, force=overwrite) as staging:
            for f in root.iterdir():
                shutil.move(str(f), staging / f.name)
    return ImportedBundle(out_dir=dest, manifest=manifest, files=sorted(expected), base_checked=base_checked,
                          base=str(target_base))
