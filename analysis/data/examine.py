"""What an import does to ONE file, as a pure function: read it, hash its bytes, decode
and clean it (:func:`analysis.data.images.load_clean`: full decode, RGB, EXIF orientation,
letterbox margins, size limits), and compute its pHash. The verdict is a
:class:`FileResult` — a rejection with its one-line reason, or the bytes to store.

Both import engines call :func:`examine_file` and nothing else per file — the local one
in a process pool, the Ray one inside ``map_batches`` — so their results are the same by
construction. It depends only on its arguments and the file (no dataset, no global
state), which is what lets it run on any worker.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, fields
from pathlib import Path

from analysis.data import dedupe
from analysis.data.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_SIDE,
    LOSSLESS_FORMATS,
    ImageRejected,
    load_clean,
)


@dataclass
class FileResult:
    """One file's verdict (picklable, and flat enough to be an Arrow row)."""

    source: str
    cls: str
    sha256: str
    error: str | None = None
    data: bytes = b""  # what to store: the source bytes when nothing changed, else re-encoded
    ext: str = ""
    width: int = 0
    height: int = 0
    phash: str = ""
    cropped: bool = False
    rel: str = ""  # set when the file already lies in the dataset (synthetic images)


# the columns a batch of results travels in (Ray); ``rel`` stays local to synth
RESULT_FIELDS = tuple(f.name for f in fields(FileResult) if f.name != "rel")


def examine_file(
    source: str,
    cls: str,
    *,
    min_side: int = DEFAULT_MIN_SIDE,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    crop_borders: bool = True,
) -> FileResult:
    """Read, check, clean and hash ``source`` (a file of class ``cls``)."""
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return FileResult(source, cls, "", error=f"unreadable file ({exc.strerror or exc})")
    sha = hashlib.sha256(raw).hexdigest()
    try:
        clean = load_clean(path, min_side=min_side, max_pixels=max_pixels, crop_borders=crop_borders)
    except ImageRejected as exc:
        return FileResult(source, cls, sha, error=str(exc))
    if not clean.changed:
        data, ext = raw, ".jpg" if clean.source_format == "JPEG" else ".png"
    else:
        buf = io.BytesIO()
        if clean.source_format in LOSSLESS_FORMATS:
            clean.image.save(buf, "PNG")
            ext = ".png"
        else:
            clean.image.save(buf, "JPEG", quality=95)
            ext = ".jpg"
        data = buf.getvalue()
    return FileResult(source, cls, sha, data=data, ext=ext, width=clean.image.width,
                      height=clean.image.height, phash=dedupe.phash_hex(clean.image),
                      cropped=clean.crop_box is not None)
