"""Safe output directories (stdlib only): build beside the target, then swap it in with one rename.

Every command that writes a folder goes through `atomic_directory(path, command=...)`:

- it refuses a non-empty folder that is not an earlier output of the same command (a marker file,
  `.domainlm.json`, says which command made a folder), unless `force=True`;
- it locks the target so two runs into one folder cannot mix their files;
- it builds the new output in a hidden sibling and replaces the old one only once the new one is
  complete, so a kill, a full disk or a crash leaves the previous output (or none) and no half one;
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
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from vocab_tools.errors import OutputError

MARKER_NAME = ".domainlm.json"

_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR,
                 errno.ENOTDIR, errno.EFBIG}
_REASONS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.EROFS: "the file system is read-only", errno.EISDIR: "a folder is in the way of a file",
            errno.ENOTDIR: "a file is in the way of a folder", errno.EFBIG: "a file is too large for the disk"}
# torch and safetensors report a failed write as RuntimeError / SafetensorError with the OS text inside.
_WRITE_MESSAGES = re.compile(r"No space left|Disk quota|file write failed|PytorchStreamWriter failed|"
                             r"Permission denied|Read-only file system|unexpected pos", re.I)


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
def atomic_write(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", *,
                 compress: bool | None = None) -> Iterator[IO]:
    """Open a hidden file beside `path`; on success rename it over `path`, on error delete it.

    The file gets the mode a plain `open(path, "w")` gives (the umask's). `compress`: gzip the
    content; by default when the name ends in `.gz` (pass False to copy gzip bytes as they are).
    The folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_sibling(path)
    try:
        binary = "b" in mode
        if path.name.endswith(".gz") if compress is None else compress:
            fh = gzip.open(tmp, mode if binary else mode + "t", encoding=None if binary else encoding)
        else:
            fh = open(tmp, mode, encoding=None if binary else encoding)
        with fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
        raise OutputError(f"The output '{path}' exists and is a file, not a folder.",
                          "Choose another output folder with -o / --output.")
    if force or not path.is_dir():
        return path
    try:
        entries = [p.name for p in path.iterdir()]
    except OSError as e:
        raise OutputError(f"Cannot read the output folder '{path}': {e.strerror or e}.",
                          "Choose another output folder with -o / --output.") from None
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
        "Choose another output folder, or pass --force to replace it (its current content will be deleted).")


def write_failure(exc: BaseException) -> str | None:
    """A short reason when `exc` is a failed write (full disk, permissions); None otherwise."""
    seen: set[int] = set()
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
    """Delete hidden build/swap folders of `path` left by runs that were killed."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:tmp|old)-(\d+)-")
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        m = pattern.match(sibling.name)
        if m and not _pid_alive(int(m.group(1))):
            shutil.rmtree(sibling, ignore_errors=True)


@contextmanager
def output_lock(path: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock on `path` for this process (a hidden `.NAME.lock` beside it)."""
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
            raise OutputError(f"Another domainlm run is writing to '{path}'{holder}.",
                              "Wait for it to finish, or write to another output folder.") from None
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
        yield
    finally:
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
def atomic_directory(path: str | os.PathLike, overwrite: bool = True, *, command: str | None = None,
                     force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory beside `path`; on success it replaces `path` in one rename.

    With `command`, the target must pass `check_output_dir(path, command, force)` and gets the
    marker that lets the same command replace it next time, and write failures become
    `OutputError`. Without it (internal folders such as checkpoints) only `overwrite` decides and
    exceptions pass through unchanged. An interrupted run leaves the previous `path` (if any)
    untouched and no partial directory.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _as_output_error(path, e) from None
    if command is not None:
        check_output_dir(path, command, force)
    with output_lock(path):
        if command is not None:  # re-check under the lock: another run may have written meanwhile
            check_output_dir(path, command, force)
        _remove_stale_siblings(path)
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
                if not overwrite:
                    raise FileExistsError(path)
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-{os.getpid()}-", dir=path.parent))
                os.replace(path, old / "previous")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
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
        "and no half-written folder was left.",
        "Free space on that disk or fix its permissions, or choose another output folder; then run the "
        "same command again.")


output_error = _as_output_error  # for writers outside this module that word a failed write the same way
