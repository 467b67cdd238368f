"""Share a domain recipe: one .tar.gz with the recipe, terms, slots manifest, report and checksums.

Layout inside the archive (all under `<name>/`):
    bundle.json         what it is: recipe name, category, base, base vocabulary sha256, versions, file list
    recipe.yaml         the recipe as written (portable: paths relative to a data root)
    recipe.resolved.yaml  every setting as used in the run
    terms.tsv, terms.json, slots.json, fill.json, report.json, report.md, stages.json
    model/…             (optional) the adapted model
    checksums.sha256    sha256 of every other file, `sha256sum` format (checkable with `sha256sum -c`)

`import_bundle` verifies every checksum (a bundle changed or truncated after export is refused), refuses paths
that escape the archive, and refuses a bundle whose base vocabulary differs from the base it is
imported for: its terms sit in slot ids that only mean the same thing on the same vocabulary.

A bundle is untrusted input (docs/THREAT_MODEL.md). Its checksums prove it is intact, not who made
it: anyone can write a bundle with matching checksums. So nothing in it decides where files go or
what is deleted: its `name` must be a recipe name (`NAME_PATTERN`: one path component) and is only
joined under the current folder; `-o` names the folder instead, and only a folder the user named
is ever replaced with `--force`. Members are limited to the documented files above, in number and
size (a tar bomb or 20,000 files is refused before anything is unpacked), and a malformed
manifest, checksum list or recipe is a `BundleError`, never a traceback.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from domainlm import __version__
from domainlm.errors import DomainLMError, OutputError
from domainlm.io import atomic_directory, check_output_dir, follow_umask, load_yaml
from domainlm.pipeline.hashing import sha256_file
from domainlm.pipeline.layout import STATE_FILE, RunLayout
from domainlm.recipes.load import PORTABLE_NAME, RESOLVED_NAME
from domainlm.recipes.schema import NAME_MAX_LENGTH, NAME_PATTERN
from vocab_tools.atomic import write_failure

BUNDLE_FORMAT = 1
CHECKSUMS = "checksums.sha256"
MANIFEST = "bundle.json"

# What a bundle may hold (see the module doc): these files at its top, the model's files under
# model/ (optional) and the report's charts under report/. Anything else is refused on import.
BUNDLE_FILES = frozenset(
    {
        MANIFEST,
        CHECKSUMS,
        PORTABLE_NAME,
        RESOLVED_NAME,
        STATE_FILE,
        "terms.tsv",
        "terms.json",
        "slots.json",
        "fill.json",
        "report.json",
        "report.md",
    }
)
MAX_MEMBERS = 1_000  # files and folders; a model folder has about ten files
MAX_FILE_BYTES = 64 << 20  # every file outside model/ (terms, reports, charts, recipes)
MAX_MODEL_FILE_BYTES = 8 << 30  # one file of the model (weights)
MAX_TOTAL_BYTES = 16 << 30
# A bundle unpacking to more than BOMB_FLOOR bytes may not be over BOMB_RATIO times its archive:
# weights hardly compress (about 1.1x), so only a crafted archive gets there (a tar bomb).
BOMB_FLOOR, BOMB_RATIO = 64 << 20, 20
_NAME = re.compile(NAME_PATTERN)


class BundleError(DomainLMError):
    """A recipe bundle cannot be written or is not safe / compatible to import."""


def _collect(run: RunLayout, include_model: bool) -> dict[str, Path]:
    """Archive name → file, from a `recipe run` folder (each file under its own name)."""
    wanted = [
        run.resolved_recipe,
        run.state,
        run.terms_tsv,
        run.terms_json,
        run.slots_json,
        run.fill_summary,
        run.report_json,
        run.report_md,
    ]
    files = {path.name: path for path in wanted if path.is_file()}
    if include_model:
        model = run.model
        if not model.is_dir():
            raise BundleError(
                f"--include-model was given but '{model}' holds no model.",
                "Run the adapt stage first: domainlm recipe run NAME.",
            )
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
        raise BundleError(
            f"'{run_dir}' holds a run of the recipe '{ran.name}', not '{recipe.name}'.",
            f"Export it as {ran.name} (domainlm recipe export {ran.name} --run-dir {run_dir}), "
            "or pass the run folder of this recipe.",
        )
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
        raise OutputError(
            f"The file '{archive}' already exists and is not a domainlm bundle: `domainlm {EXPORT_COMMAND}` "
            "would replace it.",
            "Choose another archive name with -o, or pass --force to replace it.",
        )


def export_bundle(
    recipe,
    run_dir: str | os.PathLike,
    archive: str | os.PathLike | None = None,
    *,
    include_model: bool = False,
    force: bool = False,
) -> Path:
    """Write `<archive>` (default `<name>.domainlm.tar.gz`) from a finished `recipe run` folder,
    with the recipe the run was made with (see `run_recipe_of`)."""
    from domainlm.recipes.load import dump_recipe

    run_dir = Path(run_dir)
    run = RunLayout(run_dir)
    if not run.terms_tsv.is_file():
        raise BundleError(
            f"'{run_dir}' holds no mined terms (mine/terms.tsv): nothing to share yet.",
            f"Run the recipe first: domainlm recipe run {recipe.name} --output {run_dir}",
        )
    recipe = run_recipe_of(recipe, run_dir)
    archive = Path(archive) if archive else Path(f"{recipe.name}.domainlm.tar.gz")
    check_archive_path(archive, force)
    files = _collect(run, include_model)
    _check_exportable(files, run_dir)
    fill = json.loads(run.fill_summary.read_text(encoding="utf-8")) if run.fill_summary.name in files else {}
    base_hash = fill.get("base_vocab_sha256")
    if base_hash is None:
        base_hash = _base_vocab_sha256(
            recipe.base,
            f"Cannot read the base vocabulary of '{recipe.base}' to record in the bundle",
            "Run the fill stage (domainlm recipe run) so its hash is recorded, or make the base available.",
        )
    extra = {"recipe.yaml": dump_recipe(recipe, portable=True).encode("utf-8")}
    checks: dict[str, str] = {name: hashlib.sha256(data).hexdigest() for name, data in extra.items()}
    checks.update({name: sha256_file(path) for name, path in files.items()})
    manifest = {
        "format": BUNDLE_FORMAT,
        "name": recipe.name,
        "category": recipe.category,
        "aliases": recipe.aliases,
        "base": recipe.base if not os.path.isabs(recipe.base) else Path(recipe.base).name,
        "base_vocab_sha256": base_hash,
        "domainlm_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "includes_model": include_model,
        "files": sorted(checks),
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    checks[MANIFEST] = hashlib.sha256(manifest_bytes).hexdigest()
    check_bytes = "".join(f"{digest}  {name}\n" for name, digest in sorted(checks.items())).encode("utf-8")
    _write_archive(archive, recipe.name, {MANIFEST: manifest_bytes, CHECKSUMS: check_bytes, **extra}, files)
    return archive


def _check_exportable(files: dict[str, Path], run_dir: Path) -> None:
    """Refuse to export what `import_bundle` would refuse: a link, a member out of limits, too many files."""
    for name, path in files.items():
        problem = (
            "a symbolic link (its target is not shared)"
            if path.is_symlink()
            else _member_problem(name, False, path.stat().st_size)
        )
        if problem:
            raise BundleError(
                f"Cannot export '{path}' as '{name}': it is {problem}.",
                "Put the file itself in its place, or export without --include-model when it is a "
                "model file (and share that file another way).",
            )
    if len(files) + 8 > MAX_MEMBERS:
        raise BundleError(
            f"The run folder '{run_dir}' has {len(files):,} files to share, more than a bundle may hold "
            f"({MAX_MEMBERS:,}).",
            "Export without --include-model, or share the model another way.",
        )


def _base_vocab_sha256(base: str, failure: str, fix: str) -> str:
    """The sha256 of `base`'s vocabulary; a `BundleError` (`failure`: why, `fix`) when it cannot be read."""
    from vocab_tools.loading import vocab_sha256

    try:
        return vocab_sha256(base)
    except Exception as e:  # noqa: BLE001 - reported as a clear bundle error
        raise BundleError(f"{failure}: {str(e).rstrip('.')}.", fix) from None


def _write_archive(archive: Path, prefix: str, contents: dict[str, bytes], files: dict[str, Path]) -> None:
    """Write the .tar.gz under `prefix/`: `contents` first (in order), then `files`; swapped in whole,
    so a failed write leaves any earlier archive as it was."""
    tmp = None
    try:
        archive.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", suffix=".tmp", dir=archive.parent)
        os.close(fd)
        with tarfile.open(tmp, "w:gz") as tar:
            for name, data in contents.items():
                info = tarfile.TarInfo(f"{prefix}/{name}")
                info.size = len(data)
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
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
        raise OutputError(
            f"Could not write '{archive}': {reason}. Nothing was replaced.",
            "Free space on that disk or fix its permissions, or choose another archive name.",
        ) from None


@dataclass
class ImportedBundle:
    out_dir: Path
    manifest: dict
    files: list[str]
    base_checked: bool
    base: str


def valid_bundle_name(name) -> bool:
    """True when `name` may be a folder name: a recipe name (one path component, never '.', '..',
    hidden or absolute; lowercase ASCII letters, digits, '-' and '_')."""
    return isinstance(name, str) and len(name) <= NAME_MAX_LENGTH and _NAME.fullmatch(name) is not None


def _name_problem(name) -> str:
    shown = repr(name) if isinstance(name, str) else f"{name!r} (a {type(name).__name__}, not text)"
    return (
        f"its name {shown} is not a recipe name (at most {NAME_MAX_LENGTH} lowercase ASCII letters, digits, "
        "'-' and '_', starting with a letter or digit)"
    )


def _member_problem(rel: str, is_dir: bool, size: int) -> str | None:
    """Why the member at `rel` (below the bundle's folder) may not be in a bundle, or None."""
    parts = rel.split("/")
    if any(not p or p in (".", "..") or any(ord(c) < 32 for c in p) for p in parts):
        return "not a plain relative path"
    if parts[0] == "model":
        if len(parts) == 1 and not is_dir:
            return "a file where the model folder should be"
        if len(parts) > 4:
            return "nested too deep under model/"
        if not is_dir and size > MAX_MODEL_FILE_BYTES:
            return f"{size / 2**30:.1f} GiB, over the {MAX_MODEL_FILE_BYTES >> 30} GiB a model file may have"
        return None
    if parts[0] == "report" and (len(parts) == 1 and is_dir or len(parts) == 2 and parts[1].endswith(".png")):
        pass
    elif len(parts) != 1 or is_dir or rel not in BUNDLE_FILES:
        return "not a file a bundle holds"
    if not is_dir and size > MAX_FILE_BYTES:
        return f"{size / 2**20:.0f} MiB, over the {MAX_FILE_BYTES >> 20} MiB this file may have"
    return None


def _not_a_bundle(archive: Path, why: str) -> BundleError:
    return BundleError(
        f"'{archive}' is not a valid domainlm bundle: {why}. Nothing was imported.",
        "Do not import it; ask its author for a bundle made with `domainlm recipe export`.",
    )


def _safe_members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The members of `tar`, after checking that each is a documented bundle file in limits.

    Read header by header and stopped at the first problem, so a bundle of 20,000 files or a tar
    bomb is refused before anything is unpacked (and before the whole archive is decompressed).
    """
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    root: str | None = None
    total = 0
    archive_size = max(archive.stat().st_size, 1)
    for m in tar:
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or not (m.isfile() or m.isdir()):
            raise BundleError(
                f"'{archive}' contains an unsafe entry '{m.name}' (absolute path, '..', or a link).",
                "Do not import it; ask its author for a bundle made with `domainlm recipe export`.",
            )
        if len(members) >= MAX_MEMBERS:
            raise _not_a_bundle(archive, f"it holds more than {MAX_MEMBERS:,} entries")
        name = p.as_posix().strip("/")
        top, _, rel = name.partition("/")
        root = top if root is None else root
        if top != root:
            raise _not_a_bundle(archive, f"its entries are not all in one folder ('{root}/' and '{top}/')")
        if not valid_bundle_name(top):
            raise _not_a_bundle(archive, f"its folder {top!r} is not a recipe name")
        if rel:
            problem = _member_problem(rel, m.isdir(), m.size)
            if problem:
                raise _not_a_bundle(archive, f"the entry '{m.name}' is {problem}")
        elif not m.isdir():
            raise _not_a_bundle(archive, f"the entry '{m.name}' is a file where the bundle's folder should be")
        if name in seen:
            raise _not_a_bundle(archive, f"the entry '{m.name}' appears twice")
        seen.add(name)
        total += m.size if m.isfile() else 0
        if total > MAX_TOTAL_BYTES:
            raise _not_a_bundle(archive, f"it unpacks to more than {MAX_TOTAL_BYTES >> 30} GiB")
        if total > BOMB_FLOOR and total > BOMB_RATIO * archive_size:
            raise _not_a_bundle(
                archive,
                f"it unpacks to more than {total / 2**20:,.0f} MiB from a "
                f"{archive_size / 2**20:,.2f} MiB archive (a compression bomb)",
            )
        members.append(m)
    return members


def _read_text(root: Path, name: str, archive: Path) -> str:
    try:
        return (root / name).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _not_a_bundle(archive, f"its {name} is not UTF-8 text") from None


def _read_checksums(root: Path, archive: Path) -> dict[str, str]:
    expected: dict[str, str] = {}
    for number, line in enumerate(_read_text(root, CHECKSUMS, archive).splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            raise _not_a_bundle(archive, f"line {number} of its {CHECKSUMS} is not '<sha256>  <file>'")
        expected[name] = digest
    return expected


def _read_manifest(root: Path, archive: Path) -> dict:
    try:
        manifest = json.loads(_read_text(root, MANIFEST, archive))
    except ValueError as e:
        raise _not_a_bundle(archive, f"its {MANIFEST} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict):
        raise _not_a_bundle(archive, f"its {MANIFEST} is not a JSON object")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"'{archive}' is bundle format {manifest.get('format')!r}; this domainlm reads format {BUNDLE_FORMAT}.",
            "Upgrade domainlm (pip install -U domainlm).",
        )
    if not valid_bundle_name(manifest.get("name")):
        raise _not_a_bundle(archive, _name_problem(manifest.get("name")))
    if manifest["name"] != root.name:
        raise _not_a_bundle(archive, f"its {MANIFEST} names it '{manifest['name']}' but its folder is '{root.name}'")
    wrong = [key for key in ("category", "base", "base_vocab_sha256") if not isinstance(manifest.get(key), str)]
    if wrong:
        raise _not_a_bundle(archive, f"its {MANIFEST} has no text field {', '.join(repr(k) for k in wrong)}")
    return manifest


def _read_recipe(root: Path, archive: Path, name: str):
    """The bundle's recipe.yaml, validated against this version's schema (yaml.safe_load: plain data only)."""
    from domainlm.recipes.load import validate_data

    try:
        data = load_yaml(_read_text(root, PORTABLE_NAME, archive))
    except yaml.YAMLError as e:
        reason = str(e).splitlines()[0][:200]
        raise _not_a_bundle(archive, f"its {PORTABLE_NAME} is not plain YAML ({reason})") from None
    if not isinstance(data, dict):
        raise _not_a_bundle(archive, f"its {PORTABLE_NAME} is not a recipe (a YAML mapping)")
    recipe = validate_data(data, source=f"in '{archive}'")
    if recipe.name != name:
        raise _not_a_bundle(archive, f"its {PORTABLE_NAME} is the recipe '{recipe.name}', its {MANIFEST} says '{name}'")
    return recipe


def _unpack_failure(archive: Path, where: Path, exc: BaseException) -> BundleError:
    """A bundle that could not be unpacked for want of space or permission where it is checked:
    the bundle is fine, the temporary folder is not."""
    return BundleError(
        f"Could not unpack '{archive}' to check it: {write_failure(exc) or exc} in the temporary "
        f"folder '{where}'. Nothing was imported.",
        "Free space there, or point TMPDIR at a disk with room "
        f"(e.g. TMPDIR=/path/with/space domainlm recipe import {archive.name} …).",
    )


def _destination(out_dir, name: str, force: bool) -> Path:
    """Where to unpack: the folder the user named (`-o`), else `./<name>`, never replaced with --force."""
    if out_dir is not None:
        return Path(out_dir)
    dest = Path.cwd() / name  # name is one validated path component: this stays in the current folder
    try:
        check_output_dir(dest, IMPORT_COMMAND, force=False)
    except OutputError as e:
        raise OutputError(
            e.message,
            f"Import it into a folder you name: -o DIR (with --force to replace a folder "
            f"that holds other files, e.g. -o {name} --force).",
        ) from None
    return dest


def import_bundle(
    archive: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    base: str | None = None,
    check_base: bool = True,
    force: bool = False,
) -> ImportedBundle:
    """Verify and unpack a bundle into `out_dir` (default `./<name>`).

    Refuses: a file whose sha256 differs from checksums.sha256, a missing or unlisted file, an
    unsafe path, a member a bundle does not hold or one over its size (see `_safe_members`), a
    name that is not a recipe name, and — when `check_base` — a base (`base`, default the
    bundle's own) whose vocabulary hash differs from the one the bundle was made on.

    `force` (--force) replaces only `out_dir`, a folder the caller named: without `out_dir`
    it is refused, since the bundle's own name would then choose the folder to delete.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BundleError(f"The bundle '{archive}' does not exist.", "Check the path.")
    if force and out_dir is None:
        raise BundleError(
            "--force replaces only a folder you name, and no output folder was given.",
            "Name the folder to import into (and replace) with -o DIR --force, or leave --force out "
            "to import into ./<name> when that is new, empty or an earlier import.",
        )
    if out_dir is not None:
        check_output_dir(out_dir, IMPORT_COMMAND, force)  # before unpacking anything
    try:
        unpack_dir = tempfile.TemporaryDirectory(prefix="domainlm-bundle-")
    except OSError as e:
        raise _unpack_failure(archive, Path(tempfile.gettempdir()), e) from None
    with unpack_dir as tmp_name:
        root = _unpack(archive, Path(tmp_name))
        expected = _verify_checksums(root, archive)
        manifest = _read_manifest(root, archive)
        # The recipe inside must still validate against this version's schema.
        _read_recipe(root, archive, manifest["name"])
        target_base = base or manifest["base"]
        if check_base:
            _check_same_base(archive, manifest, target_base)
        dest = _destination(out_dir, manifest["name"], force)
        with atomic_directory(dest, command=IMPORT_COMMAND, force=force and out_dir is not None) as staging:
            for f in root.iterdir():
                shutil.move(str(f), staging / f.name)
    return ImportedBundle(
        out_dir=dest, manifest=manifest, files=sorted(expected), base_checked=bool(check_base), base=str(target_base)
    )


def _unpack(archive: Path, tmp: Path) -> Path:
    """Unpack the checked members of `archive` into `tmp` (see `_safe_members`); the bundle's folder there."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _safe_members(tar, archive)
            needed = sum(m.size for m in members if m.isfile())
            free = shutil.disk_usage(tmp).free
            if needed > free:
                raise BundleError(
                    f"'{archive}' unpacks to {needed / 2**20:,.0f} MiB but only {free / 2**20:,.0f} MiB "
                    f"are free in '{tmp.parent}'.",
                    "Free disk space there (or set TMPDIR to another disk).",
                )
            tar.extractall(tmp, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        if write_failure(e) is not None and getattr(e, "filename", None) != str(archive):
            # the temporary folder is full or not writable (P25), not the bundle unreadable
            raise _unpack_failure(archive, tmp.parent, e) from None
        raise BundleError(
            f"'{archive}' is not a readable .tar.gz bundle: {e}.",
            "Re-download it, or re-export it with `domainlm recipe export`.",
        ) from None
    roots = [p for p in tmp.iterdir() if p.is_dir()]
    if len(roots) != 1 or not (roots[0] / CHECKSUMS).is_file() or not (roots[0] / MANIFEST).is_file():
        raise BundleError(
            f"'{archive}' is not a domainlm recipe bundle (no {MANIFEST} / {CHECKSUMS}).",
            "Make bundles with `domainlm recipe export NAME`.",
        )
    return roots[0]


def _verify_checksums(root: Path, archive: Path) -> dict[str, str]:
    """The checksums the bundle lists, after checking that every file is listed, present and unchanged."""
    expected = _read_checksums(root, archive)
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
        raise BundleError(
            f"The bundle '{archive}' failed verification and was not imported:\n"
            + "\n".join(f"  - {p}" for p in problems),
            "It was changed or damaged after export; get a fresh copy from its author.",
        )
    return expected


def _check_same_base(archive: Path, manifest: dict, target_base: str) -> None:
    """Refuse a bundle made on another base vocabulary: its terms sit in slot ids of that vocabulary."""
    actual = _base_vocab_sha256(
        target_base,
        f"Cannot read the vocabulary of the base '{target_base}' to check the bundle against",
        "Pass --base with a local copy of the base model, or --no-check-base to skip the check.",
    )
    if actual != manifest["base_vocab_sha256"]:
        raise BundleError(
            f"The bundle '{archive}' was made on a different base vocabulary than '{target_base}' "
            f"(vocabulary sha256 {manifest['base_vocab_sha256'][:12]}… vs {actual[:12]}…): "
            "its terms would land in the wrong slots.",
            f"Import it for the base it was made on ({manifest['base']}), or re-run the recipe on your base.",
        )
