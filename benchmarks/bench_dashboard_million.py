"""The dashboard on a million photos, measured in headless Chromium (issue 17, item 5).

    python benchmarks/bench_dashboard_million.py [--n 1000000] [--shots DIR]

1. A template: a small *real* analysis (every stage, reliability included) of the demo's
   EfficientNet-Lite0 finetune run, made once by ``streetlens analyze`` on copies of the
   demo's run and dataset (``/tmp/demo`` is only read), under ``--template``.
2. The million-image analysis made from it by ``benchmarks/million_cache.py`` (see there:
   every array has the real shapes; the three largest per-image arrays — activations,
   gradients, channel attributions — are computed for 32 distinct shards and hard-linked
   in rotation beyond them; everything else is distinct per image). Reused when present.
3. ``streamlit run dashboard/app.py`` on it, Chromium on 127.0.0.1: every page of the
   navigation visited twice (first visit of a fresh server process's session, then again),
   the Sample page's "next image", and the Atlas's zoom changes (the zoom selector, and a
   region zoom as "Zoom into the selection" makes it). Prints a table; target < 1 s per page,
   < 0.3 s per next image. ``--shots DIR`` saves a full-page screenshot of every page.
   ``--pause S``: wait S seconds after the cold start before the first page, as a user reads
   the first page while the server warms up (``dashboard/warmup.py``); 0 (the default)
   opens every page at once, so the first ones share the machine with the warm-up.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import million_cache  # noqa: E402
from bench_dashboard import IN_PAGE_NEXT  # noqa: E402

_spec = importlib.util.spec_from_file_location("dash_browser", ROOT / "tests/dashboard/browser.py")
browser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(browser)

DEMO = Path("/tmp/demo")
PAGE_TARGET, NEXT_TARGET = 1.0, 0.3

TEMPLATE_ANALYSIS = """
from analysis.precompute import AnalyzeConfig, analyze, default_stages
analyze({run!r}, models_root={models!r}, cache_root={cache!r}, progress=False,
        config=AnalyzeConfig(stages=(*default_stages(), "reliability"), featvis_steps=48, featvis_size=96,
                             featvis_transforms="jitter", reliability_ig_images=2, reliability_steps=10,
                             reliability_random_orders=2, reliability_loc_images=20))
"""


def make_template(demo: Path, template: Path) -> None:
    """A real analysis of the demo's EfficientNet-Lite0 finetune run, on copies (once)."""
    run = million_cache.TEMPLATE_RUN
    if (template / "cache" / run / "shards").is_dir():
        return
    if not (demo / "models" / run).is_dir():
        sys.exit(f"no demo run at {demo / 'models' / run}: build the demo first (`streetlens demo`)")
    print(f"analysing a copy of the demo run {run} into {template} (about 7 minutes, once) …", flush=True)
    for part in ("models/" + run, "data/demo"):
        if not (template / part).exists():
            shutil.copytree(demo / part, template / part)
    info_path = million_cache.RunFiles(template / "models" / run).info
    info = json.loads(info_path.read_text())
    info["dataset"]["path"] = info["config"]["dataset"] = str(template / "data" / "demo")
    info_path.write_text(json.dumps(info, indent=2))
    code = TEMPLATE_ANALYSIS.format(run=run, models=str(template / "models"), cache=str(template / "cache"))
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT), "STREETLENS_DATA": str(template / "data")})


def visit(page, url: str) -> float:
    page.goto(url)
    return browser.wait_rendered(page, timeout=180)


def errors(page) -> int:
    return page.locator(browser.ERROR_SELECTOR).count()


SHOWS_TITLE = """(text) => [...document.querySelectorAll('.js-plotly-plot .gtitle')]
    .some(e => e.textContent.includes(text))"""


def pick(page, key: str, option: str, shows: str | None = None) -> float:
    """Choose ``option`` in the selectbox with widget key ``key``; seconds to the rerun's end.
    ``shows``: a text the redrawn chart's title then holds, waited for first — a fragment's
    rerun (the Atlas map) may end before the page's run state is seen to change."""
    page.locator(f".st-key-{key} input").first.click()
    page.get_by_role("option", name=option, exact=True).first.click()
    t0 = time.perf_counter()
    if shows:
        page.wait_for_function(SHOWS_TITLE, arg=shows, timeout=120_000, polling=20)
        browser.wait_rendered(page, timeout=120)
    else:
        browser.wait_rendered(page, timeout=120, after_action=True)
    return time.perf_counter() - t0


def measure(env: dict[str, str], run: str, shots: Path | None, repeats: int, pause: float = 0.0) -> list[tuple]:
    rows: list[tuple] = []
    with browser.streamlit_server(env, timeout=120) as url, browser.browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        t = visit(page, f"{url}/?run={run}")
        rows.append(("cold start: / (first page of a fresh server)", t, None, errors(page)))
        time.sleep(pause)
        links = browser.page_links(page, url)
        for link in links:
            name = link.rstrip("/").rsplit("/", 1)[-1]
            first = visit(page, f"{link}?run={run}")
            bad = errors(page)
            if shots:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
            second = statistics.median(visit(page, f"{link}?run={run}") for _ in range(repeats))
            rows.append((name, first, second, bad))
        sample = next((link for link in links if link.rstrip("/").endswith("/sample")), None)
        if sample:
            visit(page, f"{sample}?run={run}")
            in_page = []
            for _ in range(max(5, 2 * repeats)):
                browser.wait_rendered(page, timeout=120)  # the fragment's elements are all back
                try:
                    in_page.append(page.evaluate(IN_PAGE_NEXT))
                except Exception as exc:  # noqa: BLE001 - the button was being re-rendered: try again
                    print(f"next image: {str(exc).splitlines()[0]}")
            rows.append(("sample: next image (in the page, header shown)",
                         statistics.median(h for h, _ in in_page) / 1000, None, errors(page)))
            rows.append(("sample: next image (in the page, run finished)",
                         statistics.median(c for _, c in in_page) / 1000, None, errors(page)))
        atlas = next((link for link in links if link.rstrip("/").endswith("/atlas")), None)
        if atlas:
            visit(page, f"{atlas}?run={run}")
            for option in ("32 × 32 cells", "64 × 64 cells", "8 × 8 cells", "16 × 16 cells"):
                try:
                    n = option.split(" ")[0]
                    rows.append((f"atlas: zoom selector → {option}",
                                 pick(page, "w_zoom", option, shows=f"({n} × {n} over"), None, errors(page)))
                except Exception as exc:  # noqa: BLE001 - a widget the harness could not drive: say so
                    print(f"atlas zoom to {option}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            region = f"{atlas}?run={run}&zoom=64&region=-2,2,-2,2"
            first = visit(page, region)
            rows.append(("atlas: region zoom (URL, 64 × 64 cells)", first, visit(page, region), errors(page)))
    return rows


def report(rows: list[tuple], n: int, cache_note: str, small: list[tuple] | None = None) -> None:
    print(f"\nDashboard on {n:,} images ({cache_note}); seconds, navigation → Streamlit's run rendered"
          + ("; last column: the same on the 800-image template (second visit, or the action)" if small else ""))
    print(f"{'page / action':<52}{'first':>8}{'second':>9}  errors  verdict" + ("   800 img" if small else ""))
    on_small = {name: (second if second is not None else first) for name, first, second, _ in small or []}
    for name, first, second, bad in rows:
        target = NEXT_TARGET if "next image" in name else PAGE_TARGET
        worst = max(first, second or 0) if not name.startswith("cold") else second or 0
        verdict = "ok" if worst < target else "SLOW"
        sec = f"{second:9.2f}" if second is not None else " " * 9
        ref = on_small.get(name)
        print(f"{name:<52}{first:8.2f}{sec}  {bad:>6}  {verdict:<7}" + (f"{ref:9.2f}" if ref is not None else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", type=Path, default=DEMO)
    ap.add_argument("--template", type=Path, default=Path("/tmp/sl-million/small"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/sl-million/big"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--shots", type=Path, default=None, help="save a screenshot of every page here")
    ap.add_argument("--pause", type=float, default=0.0, help="seconds between the cold start and the first page")
    ap.add_argument("--small", action="store_true", help="also measure the 800-image template (what does not scale)")
    args = ap.parse_args()
    make_template(args.demo, args.template)
    env = million_cache.build(args.template, args.out, args.n, args.distinct)
    real, apparent = million_cache.du(args.out / "cache" / million_cache.RUN)
    note = (f"cache {real / 1e9:.1f} GB on disk, {apparent / 1e9:.0f} GB as files: activations, gradients and "
            f"channel_attr hard-linked from {args.distinct} distinct shards")
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    small = None
    if args.small:
        small = measure({"STREETLENS_MODELS": str(args.template / "models"), "STREETLENS_DATA": str(args.template / "data"),
                         "STREETLENS_CACHE": str(args.template / "cache")}, million_cache.TEMPLATE_RUN, None, args.repeats)
    report(measure(env, million_cache.RUN, args.shots, args.repeats, args.pause), args.n,
           note + (f"; {args.pause:g} s after the cold start" if args.pause else ""), small)


if __name__ == "__main__":
    main()
