"""Output files that never lose anything: atomic files, atomic folders, a lock, provenance.

Every file is written under a temporary name in its target folder and then
renamed over the target (``os.replace`` is atomic on POSIX), so an
interrupted run never leaves a half-written file behind. A run whose outputs
are several files (a catalog, a flow's trajectory, summary and plot) writes
them into a fresh hidden folder beside the target and then swaps the two
folders in one step (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two
renames, with the old folder restored if the second fails): whatever moment a
run is killed, the target holds either the previous output or the new one,
complete. Files in the target that geodln did not write (a notebook beside a
catalog) are carried over into the new folder before the swap, never
deleted. :func:`output_lock` keeps two runs from writing one target at once.
Temporary files and folders honour the umask, like any file the user writes,
and those of killed runs are removed by the next run into the same target.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import io
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import zipfile
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["atomic_path", "scratch_path", "write_json", "write_npz", "npz_bytes", "NpzSpill", "JsonlSpill", "json_line", "json_bytes",
           "replace_directory", "check_output_folder", "output_lock", "read_provenance", "provenance", "json_default"]

_TMP_TAG = "geodln-tmp"  # in the names of temporary files and folders: .{target}.geodln-tmp-{pid}-{random}
_LOCK_TEXT = re.compile(rb"\d{0,10}")  # what a lock file of geodln's holds: the pid of its holder, or nothing yet


def _umask_mode(directory: bool) -> int:
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}.{_TMP_TAG}-{os.getpid()}-"


def _remove_stale(target: Path) -> None:
    """Remove temporary files and folders that runs into ``target`` left when they were killed."""
    prefix = f".{target.name}.{_TMP_TAG}-"
    if not target.parent.is_dir():
        return
    for item in target.parent.iterdir():
        if not item.name.startswith(prefix):
            continue
        pid = item.name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_path(path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    ``suffix`` keeps an extension that writers insist on (``.npz``, ``.png``).
    The file gets the permissions of any new file (the umask), not ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _umask_mode(directory=False))
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def scratch_path(target, suffix: str = ""):
    """Yield the path of a new temporary file beside ``target``, removed on exit whatever happens.

    For a large output built on disk rather than in memory (an :class:`NpzSpill`) and then handed to
    :func:`replace_directory` as a complete file. Its name is that of :func:`atomic_path`'s temporary
    files, so a run killed while it exists leaves it for the next run into ``target`` to remove.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(target), suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(path, obj) -> None:
    """Write ``obj`` as indented JSON (numpy scalars and arrays converted) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(json_bytes(obj))


def write_npz(path, arrays: dict, compress: bool = True) -> None:
    """Write ``{name: array}`` to an ``.npz`` file atomically (:func:`npz_bytes`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(npz_bytes(arrays, compress))


def npz_bytes(arrays, compress: bool = True) -> bytes:
    """The bytes of an ``.npz`` archive of ``{name: array}``, deflated unless ``compress`` is False
    (a scratch file: faster to write and read). The same arrays give the same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for key, value in arrays.items():
            _add_member(archive, key, value, compress)
    return buffer.getvalue()


def _add_member(archive: zipfile.ZipFile, key: str, value, compress: bool = True) -> None:
    """One array as the member ``{key}.npy``, as ``numpy.savez_compressed`` (or ``numpy.savez``) writes
    it, but with a fixed time stamp, so that an archive's bytes depend on its arrays only."""
    info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    with archive.open(info, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def fresh_file(path) -> Path:
    """``path`` with its folder made and any file there unlinked, not truncated: a scratch file that
    :func:`replace_directory` hard-linked into an output earlier stays intact there."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    return path


class NpzSpill:
    """``{key: array}`` held in a compressed ``.npz`` file instead of in memory.

    Each array is deflated into the file as it is set, so memory holds one
    array at a time however many there are. Reading a key, or :meth:`finish`,
    ends the writing; the file then reads like ``numpy.load``'s. The bytes
    equal :func:`npz_bytes` of the same arrays set in the same order.

    Parameters
    ----------
    path : path
        The file (created or truncated): a scratch file of geodln's, e.g. in a checkpoint folder.
    """

    def __init__(self, path):
        self.path = fresh_file(path)
        self._archive = zipfile.ZipFile(self.path, "w", allowZip64=True)
        self._keys, self._reader = [], None

    def __setitem__(self, key: str, value) -> None:
        if self._archive is None:
            raise ValueError(f"{self.path} was already read: it takes no more arrays")
        _add_member(self._archive, key, value)
        self._keys.append(key)

    def update(self, arrays: dict) -> None:
        for key, value in arrays.items():
            self[key] = value

    def __getitem__(self, key: str) -> np.ndarray:
        if self._reader is None:
            self._reader = np.load(self.finish())
        return self._reader[key]

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> list:
        return list(self._keys)

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def finish(self) -> Path:
        """End the writing; the path of the complete file."""
        if self._archive is not None:
            self._archive.close()
            self._archive = None
        return self.path


class JsonlSpill:
    """A list of JSON objects held in a JSON-lines file instead of in memory.

    :meth:`append` writes one line (:func:`json_line`)
    as each object comes; indexing and iteration read them back one at a
    time (copies: changing one does not change the file). Memory holds one
    offset per object.

    Parameters
    ----------
    path : path
        The file (created or truncated): a scratch file of geodln's.
    """

    def __init__(self, path):
        self.path = fresh_file(path)
        self._file = open(self.path, "w+b")  # noqa: SIM115 -- open as long as the list lives
        self._offsets = []

    def append(self, obj) -> None:
        self._file.seek(0, os.SEEK_END)
        self._offsets.append(self._file.tell())
        self._file.write(json_line(obj))

    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, i: int) -> dict:
        self._file.flush()
        self._file.seek(self._offsets[i])
        return json.loads(self._file.readline())

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def finish(self) -> Path:
        """Everything on disk; the path of the complete file."""
        self._file.flush()
        return self.path


def json_line(obj) -> bytes:
    """``obj`` as one line of JSON (numpy scalars and arrays converted): a record of a ``.jsonl`` file."""
    return (json.dumps(obj, default=json_default) + "\n").encode()


def json_bytes(obj) -> bytes:
    """``obj`` as indented JSON (numpy scalars and arrays converted), with a final newline."""
    return (json.dumps(obj, indent=2, default=json_default) + "\n").encode()


_HELD: dict = {}  # lock files this process holds, with their nesting depth


@contextmanager
def output_lock(target):
    """Hold an exclusive lock on the output ``target`` (a file or folder) while writing it.

    The lock is ``flock`` on a hidden file ``.{name}.lock`` beside the target,
    released by the kernel even when the process is killed; nested use in one
    process is allowed. Taking it also removes the temporary files of killed
    runs into the same target.

    Raises
    ------
    ValueError
        When another process holds the lock (its pid is named).
    """
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = target.parent / f".{target.name}.lock"
    if lock in _HELD:
        _HELD[lock] += 1
        try:
            yield
        finally:
            _HELD[lock] -= 1
        return
    if lock.is_symlink() or (lock.exists() and not _LOCK_TEXT.fullmatch(lock.read_bytes())):
        raise ValueError(f"{lock} exists and is not a lock of geodln's: refusing to use it (choose another --out)")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, _umask_mode(directory=False))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise ValueError(f"{target} is being written by another geodln process (pid {holder}, lock {lock}); "
                             "wait for it to finish, or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _remove_stale(target)
        _HELD[lock] = 1
        try:
            yield
        finally:
            del _HELD[lock]
            lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def replace_directory(out, files: dict, ours=()) -> None:
    """Make the folder ``out`` hold ``files``, in one atomic step, keeping every file geodln did not write.

    Parameters
    ----------
    out : path
        The target folder (created if missing).
    files : dict
        ``{relative path: bytes or pathlib.Path}``: the new output, as bytes
        or as a complete file (hard-linked, or copied where links fail).
    ours : iterable of str
        Relative paths of the files geodln wrote into ``out`` earlier (its
        previous output); every other file already in ``out`` is the user's
        and is carried over unchanged (hard-linked, so it exists in both
        folders until the swap).

    Raises
    ------
    ValueError
        If a new file would replace a file of the user's with the same name.
    """
    out = Path(out)
    check_output_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    ours, new = set(ours), set(files)
    user = [p for p in _relative_files(out) if p not in ours] if out.is_dir() else []
    clash = sorted(set(user) & new)
    if clash:
        raise ValueError(f"{out / clash[0]} exists and was not written by geodln: refusing to overwrite it")
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out), dir=out.parent))
    try:
        os.chmod(tmp, _umask_mode(directory=True))
        for folder in _empty_folders(out):  # a user's empty folders are kept too
            (tmp / folder).mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, Path):  # a complete file of geodln's, linked rather than read into memory
                _link_or_copy(content, tmp / name)
                continue
            with atomic_path(tmp / name) as part:
                part.write_bytes(content)
        for name in user:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(out / name, tmp / name)
        if out.exists():
            _exchange(tmp, out)  # tmp now holds the previous output
        else:
            tmp.rename(out)
            return
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(tmp, ignore_errors=True)


def check_output_folder(out) -> None:
    """Refuse an output folder ``out`` that is a file or a symbolic link (geodln would have to move it).

    Raises
    ------
    ValueError
        If ``out`` exists and is not a plain folder.
    """
    out = Path(out)
    if out.is_symlink():
        raise ValueError(f"{out} is a symbolic link: give the folder it points to ({os.path.realpath(out)}) "
                         "or another --out")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder: refusing to replace it (choose another --out)")


def _empty_folders(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.is_dir() and not p.is_symlink() and not any(p.iterdir()))


def _relative_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``), or by two renames elsewhere."""
    if platform.system() == "Linux":
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = getattr(libc, "renameat2", None)
        if renameat2 is not None:
            at_fdcwd, rename_exchange = -100, 2
            if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
                return
            err = ctypes.get_errno()
            if err not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
                raise OSError(err, os.strerror(err), str(b))
    aside = b.parent / (_tmp_prefix(b) + "old")
    b.rename(aside)
    try:
        a.rename(b)
    except BaseException:
        aside.rename(b)
        raise
    aside.rename(a)


def read_provenance(path, *keys: str) -> dict | None:
    """The JSON object at ``path`` if geodln wrote it (it records ``geodln_version`` and ``keys``), else None.

    How geodln recognises its own earlier outputs: a file of someone else's
    with the same name never makes a folder replaceable.
    """
    try:
        obj = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) and all(k in obj for k in ("geodln_version", *keys)) else None


def provenance(argv=None, **parameters) -> dict:
    """What made an output: versions, command line, parameters, time (UTC)."""
    versions = {f"{pkg}_version": package_version(pkg) for pkg in ("geodln", "numpy", "scipy", "networkx", "geomstats")}
    return versions | {
        "python_version": platform.python_version(),
        "command": " ".join(sys.argv if argv is None else ["geodln", *argv]),
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": parameters,
    }


def package_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def json_default(obj):
    """``json.dumps(default=...)`` hook: numpy arrays and scalars, paths."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} to JSON")
