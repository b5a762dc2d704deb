"""``streetlens data sheet``: a contact-sheet PNG per class, for looking at a dataset.

A person spots a mislabelled city, a watermark or a flood of indoor pictures far faster
on a grid of thumbnails than by paging through files.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from analysis.data.dataset import Dataset
from analysis.store import atomic_path


def contact_sheet(
    paths: list[Path], labels: list[str], title: str, thumb: int = 128, columns: int = 8
) -> Image.Image:
    """A grid of square thumbnails with a caption under each and a title bar."""
    rows = max(1, -(-len(paths) // columns))
    cap, head = 14, 28
    sheet = Image.new("RGB", (columns * thumb, head + rows * (thumb + cap)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 8), title, fill="black")
    for i, (path, label) in enumerate(zip(paths, labels)):
        x, y = (i % columns) * thumb, head + (i // columns) * (thumb + cap)
        try:
            with Image.open(path) as im:
                tile = ImageOps.fit(im.convert("RGB"), (thumb - 4, thumb - 4))
        except OSError:
            tile = Image.new("RGB", (thumb - 4, thumb - 4), (200, 0, 0))
        sheet.paste(tile, (x + 2, y + 2))
        draw.text((x + 3, y + thumb - 1), label[:20], fill="black")
    return sheet


def write_sheets(
    dataset: Dataset, out_dir: Path | None = None, per_class: int = 48, seed: int = 0,
    thumb: int = 128, columns: int = 8,
) -> list[Path]:
    """One PNG per class (a seeded sample of ``per_class`` images); returns the paths."""
    df = dataset.read()
    out_dir = Path(out_dir or dataset.files.sheets)
    written = []
    for cls, rows in df.groupby("class"):
        sample = rows.sample(min(per_class, len(rows)), random_state=seed).sort_values("id")
        counts = rows["split"].value_counts().to_dict()
        title = (f"{cls} ({rows['group'].iat[0]}): {len(rows)} images — "
                 + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                 + f"; showing {len(sample)}")
        img = contact_sheet([dataset.image_path(p) for p in sample["path"]],
                            [f"{i[:8]} {s}" for i, s in zip(sample["id"], sample["split"])],
                            title, thumb, columns)
        target = dataset.files.sheet(cls, out_dir)
        with atomic_path(target) as tmp:
            img.save(tmp, "PNG")
        written.append(target)
    return written

