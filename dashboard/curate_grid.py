"""The Curate page's thumbnail grid: ONE custom element (Streamlit components v2) instead of
a few widgets per thumbnail.

Sixty thumbnails with a checkbox and a ✓/✗ control each are ~400 Streamlit elements,
which made the browser, not Python, the slow part of the page (3x the time of bare
images in ``benchmarks/bench_curate.py``). Here the grid is plain DOM built by a few lines
of JavaScript: thumbnails arrive as cached JPEG data URLs, cells are reused across reruns
(keyed by image id, so an image is decoded once), and a click is shown at once and sent
to Python as one event:

    {"type": "decide", "id": ..., "status": "accepted" | "rejected" | "unreviewed"}
    {"type": "toggle", "id": ...}      the cell's select box
    {"type": "focus", "id": ...}       a click on the picture: it becomes the current one

``apply_event`` does what an event asks (writes the decision through
``analysis.data.curation``, keeps selection and cursor in the session) and is a plain
function, so it is tested without a browser.
"""

from __future__ import annotations

import base64
from collections.abc import MutableMapping
from pathlib import Path

import streamlit as st

from analysis.data import curation
from analysis.data.dataset import Dataset, DatasetError
from dashboard import state

SELECTED = "curate_selected"  # session key: ids ticked on the current page
CURSOR = "curate_cursor_id"  # session key: the current image
MESSAGE = "curate_msg"

JS = r"""
export default function(component) {
  const { data, setTriggerValue, parentElement } = component;
  let root = parentElement.querySelector('.sl-grid');
  if (!root) {
    root = document.createElement('div');
    root.className = 'sl-grid';
    parentElement.appendChild(root);
    root.addEventListener('click', (e) => {
      const cell = e.target.closest('.sl-cell');
      if (!cell) return;
      const id = cell.dataset.id;
      const act = e.target.closest('[data-act]');
      const send = (ev) => root._send('event', Object.assign(ev, {id, nonce: Date.now() + Math.random()}));
      if (!act) { send({type: 'focus'}); return; }
      const what = act.dataset.act;
      if (what === 'select') {
        if (e.target.tagName !== 'INPUT') e.preventDefault();
        const box = cell.querySelector('input');
        if (e.target.tagName !== 'INPUT') box.checked = !box.checked;
        cell.classList.toggle('sel', box.checked);
        send({type: 'toggle'});
        return;
      }
      const status = cell.dataset.status === what ? 'unreviewed' : what;
      cell.dataset.status = status;  // shown at once; Python confirms on the rerun
      send({type: 'decide', status});
    });
  }
  root._send = setTriggerValue;
  root.dataset.run = data.run || 0;  // which script run drew this (benchmarks wait on it)
  root.style.setProperty('--cols', data.columns || 6);
  const old = new Map([...root.children].map((c) => [c.dataset.id, c]));
  const cells = (data.cells || []).map((c) => {
    let el = old.get(c.id);
    if (!el) {
      el = document.createElement('div');
      el.className = 'sl-cell';
      el.dataset.id = c.id;
      el.innerHTML = '<img alt="" draggable="false"><div class="sl-cap"><span class="a"></span>' +
        '<span class="b"></span></div><div class="sl-bar"><label data-act="select">' +
        '<input type="checkbox" tabindex="-1"><span class="n"></span></label>' +
        '<button data-act="accepted" title="accept">✓</button>' +
        '<button data-act="rejected" title="reject">✗</button></div>';
    }
    const img = el.querySelector('img');
    if (img.getAttribute('src') !== c.src) img.setAttribute('src', c.src);
    img.title = c.title || '';
    el.querySelector('.a').textContent = c.cap1 || '';
    el.querySelector('.b').textContent = c.cap2 || '';
    el.querySelector('.n').textContent = '#' + c.n;
    el.dataset.status = c.status;
    el.querySelector('input').checked = !!c.selected;
    el.classList.toggle('sel', !!c.selected);
    el.classList.toggle('cur', !!c.current);
    return el;
  });
  root.replaceChildren(...cells);
}
"""

CSS = r"""
.sl-grid { display: grid; grid-template-columns: repeat(var(--cols), minmax(0, 1fr)); gap: 10px 8px;
           font-family: var(--st-font, sans-serif); }
.sl-cell { position: relative; padding: 3px; border-radius: 8px; }
.sl-cell img { display: block; width: 100%; aspect-ratio: 4 / 3; object-fit: cover; border-radius: 6px;
               cursor: zoom-in; background: var(--st-secondary-background-color, #eee); }
.sl-cell[data-status="accepted"] { box-shadow: inset 0 0 0 3px #2f9e44; }
.sl-cell[data-status="rejected"] { box-shadow: inset 0 0 0 3px #e0313188; }
.sl-cell[data-status="rejected"] img { opacity: 0.28; filter: grayscale(90%); }
.sl-cell.cur { outline: 3px solid #1c7ed6; outline-offset: 2px; }
.sl-cell.sel { background: color-mix(in srgb, #1c7ed6 16%, transparent); }
.sl-cap { font-size: 11px; line-height: 1.25; color: var(--st-text-color, #333); opacity: 0.7;
          margin-top: 3px; min-height: 2.5em; overflow: hidden; }
.sl-cap span { display: block; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.sl-bar { display: flex; align-items: center; gap: 4px; margin-top: 2px; }
.sl-bar label { display: flex; align-items: center; gap: 3px; font-size: 11px; opacity: 0.75;
                cursor: pointer; margin-right: auto; user-select: none; }
.sl-bar button { font: inherit; font-size: 13px; line-height: 1; padding: 4px 9px; cursor: pointer;
                 border-radius: 6px; border: 1px solid color-mix(in srgb, currentColor 25%, transparent);
                 background: transparent; color: var(--st-text-color, #333); }
.sl-bar button:hover { border-color: var(--st-primary-color, #ff4b4b); }
.sl-cell[data-status="accepted"] button[data-act="accepted"] { background: #2f9e44; color: white;
                                                              border-color: #2f9e44; }
.sl-cell[data-status="rejected"] button[data-act="rejected"] { background: #e03131; color: white;
                                                              border-color: #e03131; }
"""

_component = None


def _grid():
    global _component
    if _component is None:
        _component = st.components.v2.component("streetlens_curate_grid", js=JS, css=CSS)
    return _component


@st.cache_data(show_spinner=False, max_entries=4096)
def thumb_url(path: str, size: int = 200) -> str:
    """A cached JPEG thumbnail as a data URL (no file request per image)."""
    return "data:image/jpeg;base64," + base64.b64encode(state.thumbnail_bytes(path, size)).decode()


def render(cells: list[dict], *, columns: int, key: str, on_event, run: int = 0) -> None:
    """Mount the grid; ``on_event`` runs (as a callback, before the rerun) for a click."""
    _grid()(data={"cells": cells, "columns": columns, "run": run}, key=key, on_event_change=on_event)


def cell_data(ds: Dataset, row, n: int, *, selected: bool, current: bool) -> dict:
    """What one cell shows: thumbnail, two caption lines, status, selection, cursor."""
    import pandas as pd

    line1, line2 = [], []
    if not pd.isna(row.street):
        line1.append(f"street {row.street:.2f} · odd {row.outlier:.2f}")
    if not pd.isna(row.dispute) and row.dispute > 0.2:
        line1.append(f"model: {row.pred_class}")
    if isinstance(row.scene, str):
        line2.append(row.scene.split("/")[0])
    if row.group_size > 1:
        line2.append(f"group of {row.group_size}")
    title = row.scene_top if isinstance(row.scene_top, str) else Path(row.path).name
    return {"id": str(row.id), "src": thumb_url(str(ds.image_path(row.path))), "n": n,
            "cap1": " · ".join(line1) or Path(row.path).name, "cap2": " · ".join(line2),
            "title": title, "status": row.curated, "selected": selected, "current": current}


def event_of(value) -> dict | None:
    """The click event from the component's session value (None when there is none)."""
    ev = value.get("event") if hasattr(value, "get") else getattr(value, "event", None)
    return ev if isinstance(ev, dict) and ev.get("id") else None


def apply_event(event: dict | None, root: str, who: str, session: MutableMapping) -> curation.Action | None:
    """Do what a grid click asks; ``session`` is ``st.session_state`` (a dict in tests)."""
    if not event:
        return None
    image_id, kind = str(event["id"]), event.get("type")
    if kind == "focus":
        session[CURSOR] = image_id
        return None
    if kind == "toggle":
        chosen = list(session.get(SELECTED, []))
        session[SELECTED] = [i for i in chosen if i != image_id] if image_id in chosen else chosen + [image_id]
        return None
    if kind == "decide":
        status = event.get("status")
        if status not in curation.STATUSES:
            return None
        session[CURSOR] = image_id
        try:
            action = curation.decide(Dataset(Path(root)), [image_id], status, who=who, source="page")
        except DatasetError as exc:
            session[MESSAGE] = f"⚠ {exc}"
            return None
        if action.n:
            session[MESSAGE] = f"{image_id[:8]} {status} · U to undo"
        return action
    return None
