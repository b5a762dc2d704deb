"""What the Curate page's buttons, keys and grid do (Streamlit callbacks): every decision
goes through ``analysis.data.curation`` at once, under the dataset lock, and is logged with
this tab's name so that undo acts on one's own decisions."""

from __future__ import annotations

import uuid
from pathlib import Path

import streamlit as st

from analysis import jobs
from analysis.data import curation
from analysis.data.dataset import Dataset, DatasetError
from dashboard import curate_grid, state
from dashboard.curate_grid import CURSOR, MESSAGE, SELECTED


def who() -> str:
    """This tab's name in the log: user + a per-session tag (undo acts on one's own)."""
    if "curate_who" not in st.session_state:
        st.session_state.curate_who = f"{curation.default_who()}/tab-{uuid.uuid4().hex[:6]}"
    return st.session_state.curate_who


# ------------------------------------------------------------------ actions (callbacks)
def say(msg: str) -> None:
    st.session_state[MESSAGE] = msg


def report(action: curation.Action | None, what: str) -> None:
    if action is None or action.n == 0:
        say(f"{what}: nothing changed" + (f" ({len(action.skipped)} already so or decided "
                                           "elsewhere)" if action and action.skipped else ""))
    else:
        say(f"{action.describe()} · U to undo")


def decide(root: str, ids: list[str], status: str | None, cls: str | None = None,
            what: str = "", only_if=None, advance: bool = False, clear: bool = False) -> None:
    if not ids:
        say("nothing selected: tick images first (S, or Shift+S for the page)")
        return
    try:
        action = curation.decide(Dataset(Path(root)), ids, status, cls=cls, who=who(),
                                 source="page", only_if=only_if)
    except DatasetError as exc:
        say(f"⚠ {exc}")
        return
    report(action, what or (status or f"moved to {cls}"))
    if clear:
        clear_selection(ids)
    if advance:
        move_cursor(+1, after_decision=True)


def grid_event(root: str) -> None:
    event = curate_grid.event_of(st.session_state.get("curate_grid"))
    curate_grid.apply_event(event, root, who(), st.session_state)


def select(ids: list[str], value: bool) -> None:
    st.session_state[SELECTED] = list(ids) if value else []


def clear_selection(ids: list[str]) -> None:
    st.session_state[SELECTED] = [i for i in st.session_state.get(SELECTED, []) if i not in ids]


def toggle_current(ids: list[str]) -> None:
    cur = st.session_state.get(CURSOR)
    if cur in ids:
        curate_grid.apply_event({"type": "toggle", "id": cur}, "", who(), st.session_state)


def move_cursor(step: int, after_decision: bool = False) -> None:
    ids = st.session_state.get("curate_page_ids", [])
    if not ids:
        return
    cur = st.session_state.get(CURSOR)
    i = ids.index(cur) if cur in ids else 0
    if after_decision and st.session_state.get("curate_show") == "unreviewed":
        # the decided image leaves this view: the next one slides into its place
        nxt = ids[i + 1] if i + 1 < len(ids) else (ids[i - 1] if i > 0 else None)
        st.session_state[CURSOR] = nxt
        return
    j = i + step
    if j >= len(ids):
        turn_page(+1)
        return
    if j < 0:
        turn_page(-1, last=True)
        return
    st.session_state[CURSOR] = ids[j]


def turn_page(step: int, last: bool = False) -> None:
    n = st.session_state.get("curate_n_pages", 1)
    page = st.session_state.get("curate_page", 1) + step
    if 1 <= page <= n:
        st.session_state.curate_page = page
        st.session_state[CURSOR] = None
        st.session_state.curate_cursor_last = last


def accept_rest(root: str, ids: list[str]) -> None:
    selected = set(st.session_state.get(SELECTED, []))
    chosen = [i for i in ids if i not in selected]
    try:
        action = curation.decide(Dataset(Path(root)), chosen, "accepted", who=who(), source="page",
                                 only_if=("unreviewed",), note="rest of page") if chosen else None
    except DatasetError as exc:
        say(f"⚠ {exc}")
        return
    report(action, "accepted the rest of the page")
    if st.session_state.get("curate_show") != "unreviewed":  # else the next ones slide in
        turn_page(+1)
    else:
        st.session_state[CURSOR] = None


def undo_mine(root: str) -> None:
    try:
        done = curation.undo(Dataset(Path(root)), last=1, by_who=who(), source="page", who=who())
    except DatasetError as exc:
        say(f"⚠ {exc}")
        return
    if not done:
        say("nothing of this tab's to undo (older actions: see the decision log below)")
    else:
        a = done[0]
        say(f"undone: {a.n} image(s) restored" +
             (f", {len(a.skipped)} kept (decided again since)" if a.skipped else ""))


def undo_action(root: str, action_id: str) -> None:
    try:
        done = curation.undo(Dataset(Path(root)), [action_id], source="page", who=who())
    except DatasetError as exc:
        say(f"⚠ {exc}")
        return
    a = done[0]
    say(f"undone {action_id}: {a.n} image(s) restored" +
         (f", {len(a.skipped)} kept (decided again since)" if a.skipped else ""))


def reject_by_score(root: str, score: str, threshold: float, cls: str) -> None:
    kw = {"below": threshold} if score == "street" else {"above": threshold}
    try:
        action, _ = curation.auto_reject(Dataset(Path(root)), score=score, cls=cls, who=who(),
                                         source="page", **kw)
    except DatasetError as exc:
        say(f"⚠ {exc}")
        return
    report(action, f"rejected by {score}")


def start_scoring(root: str, run: str | None) -> None:
    jobs.start_job(jobs.scores_job_id(Path(root)), jobs.scores_args(Path(root), run or None),
                   state.cache_root(), env=jobs.roots_env(state.data_root(), state.models_root(),
                                                          state.cache_root()))
    st.session_state.curate_scoring = True


def scoring_status(ds: Dataset) -> jobs.JobStatus | None:
    """The dataset's background scoring job, as the job itself reports it."""
    return jobs.job_status(jobs.scores_job_id(ds.root), state.cache_root())
