"""Curation: how well the scores rank real images, and how fast the Curate page is.

    python benchmarks/bench_curate.py [--realstreets ../shared/data/realstreets]
        [--work /tmp/bench_curate] [--n 2000] [--no-browser]

1. Ranking. Imports the Street View crops into WORK/data/realstreets, computes the
   Places365 street and outlier scores (``streetlens data scores``; cached in WORK, so a
   rerun is instant), prints each class's score distribution and the 10 lowest-ranked
   images of each score, and writes contact sheets of the 24 lowest street scores and
   the 24 strongest outliers (WORK/lowest_street.png, WORK/top_outliers.png).
2. Speed. Builds WORK/data/big: one class of N images (random crops of those photos,
   resized to 640x480 like crawled pictures; groups of near-duplicates included) with
   random scores (the page's cost does not depend on their values), then measures
     - curation.decide on that table (lock, re-read, write, log), median of 20
     - the page script (streamlit AppTest): cold, warm, and a click that decides
     - a real browser (headless Chromium via playwright, streamlit server): page ready
       (all 60 thumbnails decoded) on a first visit and on a reload, next page (key N),
       a click on a thumbnail's ✗ until the dataset table holds it, and key X likewise.
   Targets: page ready < 2 s, a decision saved < 200 ms.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.curate.scoring import compute_scores  # noqa: E402
from analysis.data import curation, scores  # noqa: E402
from analysis.data.dataset import Dataset  # noqa: E402
from analysis.data.importer import ImportOptions, import_folder  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# ------------------------------------------------------------------------------ ranking
def contact_sheet(ds: Dataset, rows: pd.DataFrame, out: Path, label) -> None:
    cell, cols = 200, 6
    n = len(rows)
    sheet = Image.new("RGB", (cols * cell, -(-n // cols) * (cell + 34)), "white")
    draw = ImageDraw.Draw(sheet)
    for k, row in enumerate(rows.to_dict("records")):
        with Image.open(ds.image_path(row["path"])) as im:
            im = im.convert("RGB")
            im.thumbnail((cell - 4, cell - 4))
        x, y = (k % cols) * cell, (k // cols) * (cell + 34)
        sheet.paste(im, (x + 2, y + 2))
        for j, line in enumerate(label(row)):
            draw.text((x + 3, y + cell + 1 + 11 * j), line, fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)


def ranking(src: Path, work: Path) -> Dataset:
    ds = Dataset(work / "data" / "realstreets")
    print(f"== ranking: {src} → {ds.root}")
    rep = import_folder(src, ds, options=ImportOptions(group_pattern=r"(?P<group>.+)_heading_\d+"),
                        progress=False)
    print(rep.lines()[0])
    t0 = time.perf_counter()
    report = compute_scores(ds, progress=True)
    print("\n".join(report.lines()), f"[{time.perf_counter() - t0:.1f} s]")
    df = ds.read().merge(scores.load_scores(ds), on="id")
    df["file"] = df["source"].map(lambda s: Path(s).name)
    print("\nstreet score per class (P of street-like Places365 scenes):")
    print(df.groupby("class")["street"].describe()[["count", "mean", "min", "25%", "50%", "75%", "max"]]
          .round(3).to_string())
    print("outlier score per class (cosine distance from the class centre):")
    print(df.groupby("class")["outlier"].describe()[["mean", "min", "50%", "max"]].round(3).to_string())
    print("\ntop Places365 scene of the images:", ", ".join(
        f"{k} {v}" for k, v in df["scene"].value_counts().head(12).items()))
    cols = ["class", "file", "street", "outlier", "scene_top"]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print("\n10 lowest street scores:")
        print(df.sort_values("street")[cols].head(10).to_string(index=False, float_format="%.3f"))
        print("\n10 strongest outliers:")
        print(df.sort_values("outlier", ascending=False)[cols].head(10)
              .to_string(index=False, float_format="%.3f"))
    contact_sheet(ds, df.sort_values("street").head(24), work / "lowest_street.png",
                  lambda r: [f"{r['class']} street {r['street']:.3f}", r["scene_top"][:34]])
    contact_sheet(ds, df.sort_values("outlier", ascending=False).head(24), work / "top_outliers.png",
                  lambda r: [f"{r['class']} outlier {r['outlier']:.3f}", r["scene_top"][:34]])
    print(f"\ncontact sheets: {work / 'lowest_street.png'}, {work / 'top_outliers.png'}")
    return ds


# ------------------------------------------------------------------------------ big class
def build_big(src: Path, work: Path, n: int, seed: int = 0) -> Dataset:
    ds = Dataset(work / "data" / "big")
    if ds.exists() and (ds.read()["class"] == "tokyo").sum() == n:
        print(f"== speed: reusing {ds.root} ({n} images)")
        return ds
    shutil.rmtree(ds.root, ignore_errors=True)
    print(f"== speed: building {ds.root}: one class of {n} images (640x480 crops)")
    rng = np.random.default_rng(seed)
    files = sorted(p for p in src.rglob("*.jpg"))
    (ds.root / "tokyo").mkdir(parents=True)
    rows = []
    t0 = time.perf_counter()
    for i in range(n):
        with Image.open(files[i % len(files)]) as im:
            im = im.convert("RGB")
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = im.crop((x, y, x + cw, y + ch)).resize((640, 480), Image.BICUBIC)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=88)
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        rel = f"tokyo/{sha[:16]}.jpg"
        (ds.root / rel).write_bytes(data)
        group = rows[-1]["group_id"] if rows and rng.random() < 0.1 else sha[:16]  # some groups
        rows.append({"id": sha[:16], "path": rel, "class": "tokyo", "group": "East", "split": "train",
                     "width": 640, "height": 480, "sha256": sha, "phash": "0" * 16, "group_id": group,
                     "source": str(files[i % len(files)]), "licence": "", "curated": "unreviewed",
                     "added": "2026-01-01T00:00:00+00:00"})
    other = [dict(r, id=f"{k:016x}", **{"class": "seoul"}, group_id=f"{k:016x}") for k, r in
             enumerate(rows[:40])]  # a second class, so relabel has a target
    ds.write(pd.DataFrame(rows + other))
    s = pd.DataFrame({"id": [r["id"] for r in rows + other], "street": rng.random(n + 40),
                      "outlier": rng.random(n + 40) * 0.5, "scene": "street", "scene_p": 0.5,
                      "scene_top": "street 0.50, alley 0.10, downtown 0.05"})
    s = scores.conform_scores(s)
    s.attrs = {"model": "random (benchmark)", "street_categories": list(scores.STREET_CATEGORIES[:5]),
               "computed": "2026-01-01T00:00:00"}
    s.to_parquet(ds.files.scores, index=False)
    print(f"   {time.perf_counter() - t0:.1f} s")
    return ds


def reset(ds: Dataset) -> None:
    t = ds.read()
    t["curated"] = "unreviewed"
    ds.write(t)
    curation.log_path(ds).unlink(missing_ok=True)


def time_decide(ds: Dataset) -> None:
    ids = ds.read()["id"].tolist()
    times = []
    for k in range(20):
        t0 = time.perf_counter()
        curation.decide(ds, [ids[k]], "rejected" if k % 2 else "accepted", who="bench", source="page")
        times.append(time.perf_counter() - t0)
    print(f"curation.decide on {len(ids)} rows: median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms (lock + re-read + atomic write + log)")
    reset(ds)


def time_apptest(ds: Dataset) -> None:
    from streamlit.testing.v1 import AppTest

    os.environ["STREETLENS_DATA"] = str(ds.root.parent)
    at = AppTest.from_file(str(ROOT / "dashboard/app_pages/curate.py"), default_timeout=600)
    at.query_params["dataset"], at.query_params["cls"] = ds.name, "tokyo"
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(3):
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    first = at.session_state["curate_page_ids"][0]
    t0 = time.perf_counter()
    at.button(key="k_reject").click().run()  # X on the current (first) image
    click = time.perf_counter() - t0
    assert ds.read().set_index("id").at[first, "curated"] == "rejected"
    print(f"AppTest (script only, {len(at.session_state['curate_page_ids'])} thumbnails): cold {cold:.2f} s "
          f"(imports torch & co, thumbnails), warm {min(warm):.2f} s, reject → saved and page rerun "
          f"{click:.2f} s")
    reset(ds)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BASELINE_PAGE = """
import sys
from pathlib import Path
sys.path.insert(0, %r)
import streamlit as st
from analysis.data.dataset import Dataset
from dashboard import state
ds = Dataset(Path(%r))
rows = ds.read().head(60)
with st.grid(6, min_column_width=110):
    for r in rows.itertuples():
        with st.container(key=f"cell-x-n-{r.id}"):
            st.image(state.thumbnail_bytes(str(ds.image_path(r.path)), 200), width="stretch")
"""


def start_server(work: Path, data_root: Path, big: Dataset) -> tuple[subprocess.Popen, str]:
    """A streamlit server with the Curate page (/) and a baseline page (/baseline) that
    shows the same first 60 thumbnails with nothing else: the floor on this machine."""
    launcher = work / "launch_curate.py"
    (work / "baseline_page.py").write_text(BASELINE_PAGE % (str(ROOT), str(big.root)))
    launcher.write_text(
        "import sys\nsys.path.insert(0, %r)\nimport streamlit as st\n"
        "st.set_page_config(page_title='streetlens', layout='wide')\n"
        "st.navigation([st.Page(%r, title='Curate', default=True),\n"
        "               st.Page(%r, title='Baseline', url_path='baseline')]).run()\n"
        % (str(ROOT), str(ROOT / "dashboard/app_pages/curate.py"), str(work / "baseline_page.py")))
    port = free_port()
    env = dict(os.environ, STREETLENS_DATA=str(data_root), STREETLENS_MODELS=str(work / "models"))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(launcher), "--server.port",
                             str(port), "--server.headless", "true", "--browser.gatherUsageStats",
                             "false"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, url


# all n thumbnails decoded; the Curate grid lives in a shadow root, the baseline does not
READY = ("n => { const q = s => [...document.querySelectorAll(s)].concat([...document.querySelectorAll('*')]"
         ".filter(e => e.shadowRoot).flatMap(e => [...e.shadowRoot.querySelectorAll(s)]));"
         " const im = q('.sl-cell img, [class*=st-key-cell-] img');"
         " return im.length >= n && im.every(i => i.complete && i.naturalWidth > 0); }")


def until(check, timeout: float = 60.0, what: str = "the page") -> None:
    t0 = time.perf_counter()
    while not check():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        time.sleep(0.005)


def grid_run(page) -> str:
    return page.locator(".sl-grid").first.get_attribute("data-run")


def wait_idle(page, before: str, settle: float = 0.5) -> None:
    """Until the script run that a click started has drawn the grid, plus ``settle`` for
    the rest of the page: the next click then meets an idle app."""
    until(lambda: grid_run(page) != before, 30, "the rerun")
    time.sleep(settle)


def wait_saved(ds: Dataset, image_id: str, value: str, t0: float, timeout: float = 30) -> float:
    """Seconds from ``t0`` until the dataset table on disk holds the decision."""
    while time.perf_counter() - t0 < timeout:
        try:
            if ds.read().set_index("id").at[image_id, "curated"] == value:
                return time.perf_counter() - t0
        except Exception:
            pass
        time.sleep(0.005)
    raise TimeoutError(f"{image_id} never became {value}")


def time_browser(ds: Dataset, work: Path, real: Dataset | None) -> None:
    from playwright.sync_api import sync_playwright

    proc, url = start_server(work, ds.root.parent, ds)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            address = f"{url}/?dataset={ds.name}&cls=tokyo"
            page.goto(address)  # warms the server process (imports torch & co)
            page.wait_for_function(READY, arg=60, timeout=300_000)
            base = f"{url}/baseline"
            page.goto(base)
            page.wait_for_function(READY, arg=60, timeout=300_000)
            runs = {"first visit (new tab)": [], "baseline: 60 bare st.image, new tab": [],
                    "reload": [], "next page (N)": []}
            for _ in range(3):
                other = browser.new_page(viewport={"width": 1600, "height": 1000})
                t0 = time.perf_counter()
                other.goto(base)
                other.wait_for_function(READY, arg=60, timeout=120_000)
                runs["baseline: 60 bare st.image, new tab"].append(time.perf_counter() - t0)
                other.close()
                tab = browser.new_page(viewport={"width": 1600, "height": 1000})
                t0 = time.perf_counter()
                tab.goto(address)
                tab.wait_for_function(READY, arg=60, timeout=120_000)
                runs["first visit (new tab)"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                tab.reload()
                tab.wait_for_function(READY, arg=60, timeout=120_000)
                runs["reload"].append(time.perf_counter() - t0)
                before = tab.locator(".sl-cell").first.get_attribute("data-id")
                tab.get_by_role("button", name="Page ▶").wait_for(timeout=60_000)  # shortcut live
                t0 = time.perf_counter()
                tab.keyboard.press("n")
                until(lambda: tab.locator(".sl-cell").first.get_attribute("data-id") != before, 60,
                      "the next page")
                tab.wait_for_function(READY, arg=60, timeout=120_000)
                runs["next page (N)"].append(time.perf_counter() - t0)
                tab.close()
            load = os.getloadavg()[0]
            for name, ts in runs.items():
                print(f"browser: page ready, {name}: median {statistics.median(ts):.2f} s "
                      f"(runs {', '.join(f'{t:.2f}' for t in ts)}; target < 2 s)")
            print(f"   (load average {load:.1f} on {os.cpu_count()} cores while measuring)")
            # decisions: a click on a cell's ✗, then the keyboard (X on the current image)
            page.goto(address)
            page.wait_for_function(READY, arg=60, timeout=120_000)
            time.sleep(1.0)
            saved, keys, moved = [], [], []
            for k in range(1, 6):
                cell = page.locator(".sl-cell").nth(k)
                image_id = cell.get_attribute("data-id")
                t0 = time.perf_counter()
                run = grid_run(page)
                cell.locator("button[data-act=rejected]").click()
                saved.append(wait_saved(ds, image_id, "rejected", t0))
                wait_idle(page, run)
            for _ in range(5):
                image_id = page.locator(".sl-cell.cur").first.get_attribute("data-id")
                page.mouse.click(5, 700)  # the keyboard focus on the page, not on a widget
                page.get_by_role("button", name="✗ Reject Shortcut X").wait_for(timeout=60_000)
                run = grid_run(page)
                t0 = time.perf_counter()
                page.keyboard.press("x")
                keys.append(wait_saved(ds, image_id, "rejected", t0))
                until(lambda: page.locator(".sl-cell.cur").first.get_attribute("data-id") != image_id,
                      60, "the cursor to move")
                moved.append(time.perf_counter() - t0)
                wait_idle(page, run)
            print(f"browser: click ✗ on a thumbnail → in the dataset table: median "
                  f"{1000 * statistics.median(saved):.0f} ms (max {1000 * max(saved):.0f}; target < 200 ms;"
                  f" the cell shows it at once)")
            print(f"browser: key X → in the dataset table: median {1000 * statistics.median(keys):.0f} ms "
                  f"(max {1000 * max(keys):.0f}); → page redrawn with the next image current: median "
                  f"{1000 * statistics.median(moved):.0f} ms")
            page.screenshot(path=str(work / "curate_big.png"))
            if real is not None:
                page.goto(f"{url}/?dataset={real.name}&cls=seoul")
                page.wait_for_function(READY, arg=60, timeout=300_000)
                time.sleep(1)
                page.screenshot(path=str(work / "curate_realstreets.png"))
                print(f"screenshots: {work / 'curate_big.png'}, {work / 'curate_realstreets.png'}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reset(ds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--realstreets", type=Path, default=ROOT.parent / "shared" / "data" / "realstreets")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench_curate"))
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--no-ranking", action="store_true")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    real = None if args.no_ranking else ranking(args.realstreets, args.work)
    big = build_big(args.realstreets, args.work, args.n)
    time_decide(big)
    time_apptest(big)
    if not args.no_browser:
        time_browser(big, args.work, real)


if __name__ == "__main__":
    main()
