"""Files in the instance folder: private to the server's user, written whole or not at all.

The store, its keys file and their WAL and SHM files, lock files, uploads, share cards and the
signing keys hold personal data or secrets, so files are made 0600 and folders 0700 whatever the
umask (the usual 022 would let every local user read them). Stores and folders that an older
version made with looser modes are tightened when the server starts (``restrict_folder``).

A file is written under a temporary name and renamed into place: readers see all of it or
nothing, and a write that fails (a full disk) leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_dir(path: str | os.PathLike[str]) -> Path:
    """The folder at ``path``, created 0700 (with its missing parents), or made 0700 if it
    exists. (``mkdir(parents=True)`` would give the parents the umask's mode.)"""
    folder = Path(path)
    missing = [folder]
    while not missing[-1].parent.exists():
        missing.append(missing[-1].parent)
    for made in reversed(missing):
        with contextlib.suppress(FileExistsError):
            made.mkdir(mode=DIR_MODE)
        restrict(made)
    return folder


def create_file(path: str | os.PathLike[str]) -> None:
    """Make ``path`` exist as a private file, keeping what it holds. Done for a SQLite database
    before SQLite opens it: SQLite creates files 0644 and gives a database's -wal and -shm
    files the database's own mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:  # (opened only to create it: a read-only store stays usable)
        pass
    restrict(path)


def write_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Put ``data`` at ``path`` as a private file, atomically; on failure nothing is left."""
    target = Path(path)
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise


def restrict(path: str | os.PathLike[str]) -> None:
    """Make ``path`` 0600 (a folder 0700) if it exists, is ours and is not already."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        return  # a link's target, or another user's file, is not ours to change
    mode = DIR_MODE if stat.S_ISDIR(info.st_mode) else FILE_MODE
    if stat.S_IMODE(info.st_mode) != mode:
        try:
            os.chmod(path, mode)
        except FileNotFoundError:  # renamed or deleted meanwhile (another process's write)
            pass
        except OSError as exc:
            log.warning("could not make %s private (mode %o): %s", path, mode, exc)


def restrict_folder(path: str | os.PathLike[str]) -> None:
    """The instance folder and what lies directly in it, private. Deeper files (cards, uploads)
    need no pass of their own: nobody else can enter the folders that hold them."""
    folder = make_dir(path)
    with os.scandir(folder) as entries:
        for entry in entries:
            restrict(entry.path)
