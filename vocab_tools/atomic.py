"""Safe output directories (stdlib only): build beside the target, then swap it in with one rename.

Every command that writes a folder goes through `atomic_directory(path, command=...)`:

- it refuses a non-empty folder that is not an earlier output of the same command (a marker file,
  `.domainlm.json`, says which command made a folder), unless `force=True`;
- it locks the target so two runs into one folder cannot mix their files;
- it builds the new output in a hidden sibling and replaces the old one only once the new one is
  complete, in one atomic exchange where Linux offers it, so a kill, a full disk or a crash leaves the
  previous output (or none) and no half one;
- the new folder follows the umask, as `save_pretrained` does (mkdtemp alone gives 0700);
- hidden siblings left by killed runs are removed the next time the same output is written;
- a write failure (no space, permission denied, read-only disk, a file where a folder should be)
  becomes an `OutputError` that says what happened and that nothing was replaced.

`check_output_dir` runs the same refusal up front, so a long job fails in its first second rather
than after hours of work.

Single files go through `atomic_write` (or `stage_file`, for several files renamed together): the
one implementation of "write a hidden sibling, then rename it over the target". Its temporary file
is created with mode 0666 and the kernel applies the umask, as a plain `open` does (mkstemp would
give 0600, and a chmod after the fact needs the process-wide umask read, which races with threads).
"""

from __future__ import annotations

import errno
import gzip
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, cast

from vocab_tools.errors import OutputError

MARKER_NAME = ".domainlm.json"

_WRITE_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EFBIG,
}
_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "a folder is in the way of a file",
    errno.ENOTDIR: "a file is in the way of a folder",
    errno.EFBIG: "a file is too large for the disk",
}
# torch and safetensors report a failed write as RuntimeError / SafetensorError with the OS text inside.
_WRITE_MESSAGES = re.compile(
    r"No space left|Disk quota|file write failed|PytorchStreamWriter failed|"
    r"Permission denied|Read-only file system|unexpected pos",
    re.I,
)


def umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def follow_umask(path: Path, directory: bool) -> None:
    """Give `path` the mode a plain `mkdir`/`open` would have (tempfile makes 0700 / 0600)."""
    try:
        os.chmod(path, (0o777 if directory else 0o666) & ~umask())
    except OSError:
        pass


def _new_sibling(path: Path) -> Path:
    """Create a new, empty hidden file beside `path`, with the mode a plain `open` would give it."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))


@contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", *, compress: bool | None = None
) -> Iterator[IO]:
    """Open a hidden file beside `path`; on success rename it over `path`, on error delete it.

    The file gets the mode a plain `open(path, "w")` gives (the umask's). `compress`: gzip the
    content; by default when the name ends in `.gz` (pass False to copy gzip bytes as they are).
    The folder is created if needed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _new_sibling(path)
    except OSError as exc:
        raise (_as_output_error(path, exc) if write_failure(exc) else exc) from None
    try:
        binary = "b" in mode
        fh: IO
        if path.name.endswith(".gz") if compress is None else compress:
            fh = cast(IO, gzip.open(tmp, mode if binary else mode + "t", encoding=None if binary else encoding))
        else:
            fh = open(tmp, mode, encoding=None if binary else encoding)
        with fh:
            yield fh
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and write_failure(exc):  # a full disk is the user's to fix: say so
            raise _as_output_error(path, exc) from exc
        raise


def stage_file(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write `data` (text as UTF-8) in full to a new hidden file beside `path` and return that file.

    For writers that publish several files together: stage them all, then `os.replace` each over its
    target (or delete the staged ones if anything failed). Same mode rule as `atomic_write`.
    """
    path = Path(path)
    tmp = _new_sibling(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replace `path` by `text` (UTF-8) in one rename: readers see the old content or the new, never half."""
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def output_owner(path: str | os.PathLike) -> str | None:
    """The command that made the folder `path`, from its marker; None when it has none."""
    try:
        data = json.loads((Path(path) / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("command") if isinstance(data, dict) else None


def check_output_dir(path: str | os.PathLike, command: str, force: bool = False) -> Path:
    """Raise `OutputError` unless `path` may receive the output of `command`.

    Allowed: a path that does not exist, an empty folder, an earlier output of the same command,
    or anything with `force` (except a file where the folder should be).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"The output '{path}' exists and is a file, not a folder.",
            "Choose another output folder with -o / --output.",
        )
    cwd = Path.cwd().resolve()
    if path.resolve() == cwd or path.resolve() in cwd.parents:
        # The output folder is replaced as a whole: the shell would be left in a deleted folder (B6).
        raise OutputError(
            f"The output '{path}' is the current folder (or one above it); domainlm replaces "
            "its output folder as a whole.",
            "Name a new folder inside it, e.g. -o out.",
        )
    if force or not path.is_dir():
        return path
    try:
        entries = [p.name for p in path.iterdir()]
    except OSError as e:
        raise OutputError(
            f"Cannot read the output folder '{path}': {e.strerror or e}.",
            "Choose another output folder with -o / --output.",
        ) from None
    if not entries:
        return path
    owner = output_owner(path)
    if owner == command:
        return path
    entries = sorted(e for e in entries if e != MARKER_NAME) or [MARKER_NAME]
    shown = ", ".join(entries[:5]) + (" …" if len(entries) > 5 else "")
    made_by = f"the output of `domainlm {owner}`" if owner else "files domainlm did not make"
    raise OutputError(
        f"The output folder '{path}' is not empty: it holds {made_by} ({shown}), and `domainlm {command}` "
        "would replace the whole folder.",
        "Choose another output folder, or pass --force to replace it (its current content will be deleted).",
    )


def _file_marker(path: Path) -> Path:
    """The hidden file beside an output file that says which command wrote it."""
    return path.with_name(f".{path.name}.domainlm.json")


def file_owner(path: str | os.PathLike) -> str | None:
    """The command that wrote the file `path`, from its hidden marker; None when it has none."""
    try:
        data = json.loads(_file_marker(Path(path)).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("command") if isinstance(data, dict) else None


def record_file_owner(path: str | os.PathLike, command: str) -> None:
    """Mark the file `path` as an output of `command` (what `check_output_file` looks for)."""
    path = Path(path)
    marker = _file_marker(path)
    marker.write_text(json.dumps({"command": command, "file": path.name}) + "\n", encoding="utf-8")
    follow_umask(marker, directory=False)


def check_not_an_input(output: str | os.PathLike, inputs=(), what: str = "output") -> None:
    """Refuse an output that is one of the inputs, or lies inside an input folder (D1-D3).

    `inputs` are the paths as the user gave them, `NAME=PATH` pairs, globs, or objects with a `path`
    (corpus specs); names that match no file (hub ids) are skipped. A force flag never overrides this:
    the input would be destroyed.
    """
    import glob

    target = Path(output).resolve()
    for given in [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs:
        given = getattr(given, "path", given)  # a corpus spec names its path
        name = str(given).split("=", 1)[1] if "=" in str(given) and not Path(str(given)).exists() else str(given)
        for source in [Path(name)] if Path(name).exists() else map(Path, glob.glob(name, recursive=True)):
            _refuse_overlap(target, source.resolve(), output, given, what)


def _refuse_overlap(target: Path, source: Path, output, given, what: str) -> None:
    if target == source or (source.is_dir() and source in target.parents) or target in source.parents:
        relation = "is" if target == source else "overlaps"
        raise OutputError(
            f"The {what} '{output}' {relation} the input '{given}': writing it would destroy the input.",
            "Choose an output outside the inputs with -o / --output.",
        )


def check_output_file(path: str | os.PathLike, command: str, force: bool = False, inputs=()) -> Path:
    """The file rule of every command that writes one: never an input; a new file, or an earlier output
    of `command` (its hidden marker says so), or anything with `force`; never a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(
            f"The output '{path}' is a folder, not a file.",
            "Name an output file, e.g. -o clean.txt (or clean.jsonl, clean.txt.gz).",
        )
    check_not_an_input(path, inputs, "output file")
    if path.exists() and not force and file_owner(path) != command:
        raise OutputError(
            f"The output file '{path}' already exists and was not written by `domainlm {command}`: "
            "it would be replaced.",
            "Choose another output file, or pass --force to replace it.",
        )
    return path


def write_failure(error: BaseException) -> str | None:
    """A short reason when `error` is a failed write (full disk, permissions); None otherwise."""
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
            return _REASONS.get(exc.errno, exc.strerror or str(exc))
        if not isinstance(exc, (OutputError, KeyboardInterrupt)) and _WRITE_MESSAGES.search(str(exc) or ""):
            text = str(exc)
            if re.search(r"No space|unexpected pos|file write failed|StreamWriter", text, re.I):
                return "no space left on the device (or the write was cut short)"
            return text.splitlines()[0][:200]
        exc = exc.__cause__ or exc.__context__
    return None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale_siblings(path: Path) -> None:
    """Delete hidden build/swap folders of `path` left by runs that were killed.

    A run killed between the two renames of the fallback swap left `path` missing and its previous
    content in `.NAME.old-PID-*/previous`: that content is put back at `path` first, never deleted.
    """
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(tmp|old)-(\d+)-")
    try:
        siblings = sorted(path.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        m = pattern.match(sibling.name)
        if not m or _pid_alive(int(m.group(2))):
            continue
        previous = sibling / "previous"
        if m.group(1) == "old" and previous.is_dir() and not path.exists():
            try:
                os.replace(previous, path)
            except OSError:
                continue  # leave it where it is rather than delete the only copy
        shutil.rmtree(sibling, ignore_errors=True)


_RENAME_EXCHANGE = 2  # linux/fs.h


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux `renameat2(RENAME_EXCHANGE)`); False where the OS,
    the C library or the file system cannot (the caller then falls back to two renames)."""
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, path: Path) -> None:
    """Put the folder `new` at `path`, whose previous content is deleted only once `new` is in place.

    With an atomic exchange there is no moment without a folder at `path`. Without it, the previous
    folder is parked in a hidden `.NAME.old-PID-*` sibling for the instant between two renames; a kill
    there is repaired by the next write of `path` (`_remove_stale_siblings` puts it back).
    """
    if _exchange(new, path):
        shutil.rmtree(new, ignore_errors=True)  # it now holds the previous content
        return
    old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-{os.getpid()}-", dir=path.parent))
    os.replace(path, old / "previous")
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)


def output_target(path: Path) -> Path:
    """Where an output folder named `path` really is: a symbolic link's target (B27: the output goes
    into the folder the link leads to, and the link keeps leading to it), else `path` itself. A link
    that leads nowhere (broken, or a loop) is refused rather than replaced by a folder."""
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise OutputError(
            f"The output '{path}' is a symbolic link that leads nowhere (its target is missing, or "
            "the links form a loop).",
            "Fix the link, or name a real folder with -o / --output.",
        ) from None


_HELD_LOCKS: set[str] = set()  # outputs this process holds: a command that locks at its start re-enters


@contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock on `path` for this process (a hidden `.NAME.lock` beside it).

    Re-entrant within a process: `adapt` holds it from its first second to its last, and the
    `atomic_directory` that writes the model inside takes it again (flock would refuse a second
    open file of the same process).
    """
    path = output_target(Path(path))
    key = str(path.absolute())
    if key in _HELD_LOCKS:
        yield
        return
    try:
        import fcntl
    except ImportError:  # Windows: no lock, the swap is still atomic
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = ""
            try:
                holder = f" (pid {lock_path.read_text().strip()})"
            except OSError:
                pass
            raise OutputError(
                f"Another domainlm run is writing to '{path}'{holder}.",
                "Wait for it to finish, or write to another output folder.",
            ) from None
        # The file we locked may have been unlinked by the previous holder: lock the current one.
        try:
            if os.fstat(fd).st_ino == os.stat(lock_path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _HELD_LOCKS.add(key)
        yield
    finally:
        _HELD_LOCKS.discard(key)
        try:
            lock_path.unlink()
        except OSError:
            pass
        os.close(fd)


def write_marker(directory: Path, command: str) -> None:
    """Mark `directory` as an output of `command` (what `check_output_dir` looks for)."""
    marker = {"command": command, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()}
    (directory / MARKER_NAME).write_text(json.dumps(marker) + "\n", encoding="utf-8")
    follow_umask(directory / MARKER_NAME, directory=False)


@contextmanager
def atomic_directory(path: str | os.PathLike, *, command: str | None = None, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success it replaces `path` in one rename.

    With `command`, the target must pass `check_output_dir(path, command, force)` and gets the
    marker that lets the same command replace it next time, and write failures become
    `OutputError`. Without it (internal folders such as checkpoints) an existing `path` is replaced and
    exceptions pass through unchanged. An interrupted run leaves the previous `path` (if any)
    untouched and no partial directory.
    """
    path = output_target(Path(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _as_output_error(path, e) from None
    if command is not None:
        check_output_dir(path, command, force)
    with output_lock(path):
        _remove_stale_siblings(path)  # first: it may put back a previous output a killed run had parked
        if command is not None:  # re-check under the lock: another run may have written meanwhile
            check_output_dir(path, command, force)
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
        except OSError as e:
            raise _as_output_error(path, e) from None
        follow_umask(tmp, directory=True)
        try:
            yield tmp
            if command is not None:
                write_marker(tmp, command)
            if path.exists():
                _swap_in(tmp, path)
            else:
                os.replace(tmp, path)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            # Internal callers (command=None, e.g. checkpoints) word their own failures.
            if command is not None and write_failure(exc) is not None and not isinstance(exc, OutputError):
                raise _as_output_error(path, exc) from exc
            raise


@contextmanager
def scratch_dir(path: str | os.PathLike) -> Iterator[Path]:
    """A hidden work folder beside the output `path` (same disk, so room for large intermediates),
    removed on exit; one left by a killed run is removed by the next `atomic_directory(path)`."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent))
    except OSError as e:
        raise _as_output_error(path, e) from None
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _as_output_error(path: Path, exc: BaseException) -> OutputError:
    reason = write_failure(exc) or str(exc)
    return OutputError(
        f"Could not write '{path}': {reason}. Nothing was replaced: the previous output, if any, is intact "
        "and nothing half-written was left.",
        "Free space on that disk or fix its permissions, or choose another output folder; then run the "
        "same command again.",
    )


output_error = _as_output_error  # for writers outside this module that word a failed write the same way
