"""A share's video on disk, beside its images (share/images.py): named after the share and the
render versions, so a file's bytes never change and its name is a strong ETag; deleted with the
share's images when it is revoked or swept (``images.forget``)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..share import cards, images
from ..store import private_files

# Bump when the video's drawing or encoding changes (a card's change bumps cards.RENDER_VERSION).
VIDEO_VERSION = 1


def tag(share_id: str) -> str:
    return f"{share_id}-video-v{cards.RENDER_VERSION}.{VIDEO_VERSION}"


def video_path(share_id: str) -> Path:
    return images.cache_dir() / share_id[:2] / f"{tag(share_id)}.mp4"


def write(path: Path, produce: Callable[[Path], None]) -> None:
    """``produce`` the file into a private temporary path beside ``path``, then move it there:
    readers see the whole video or none, and a failed render leaves nothing."""
    private_files.make_dir(path.parent)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    os.close(fd)
    try:
        produce(Path(partial))
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
