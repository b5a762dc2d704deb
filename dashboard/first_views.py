"""What the slowest pages compute for the view they open on, computed ahead by the warm-up.

Why: on the million-image cache, after the warm-up's columns and imports, the first visits of
Errors, Curate and Datasets still spent 0.5-1.5 s on their own data: Errors' held-out rows
and the concepts behind its mistakes, Curate's table of a million images and the review order
of its first class, Datasets' counts and its thumbnails' paths. Each function here calls the
same cached loaders, with the same arguments, as its page does when opened without choices
in the URL (Curate's dataset excepted: the one in the URL, as the page would), so the page's
first visit finds them made. The loaders live in shared modules (``state``, ``why``, ``errors_view``,
``dataset_tables``), never in
a page script: a page runs as ``__main__``, and Streamlit keys a cached function by its module.
"""

from __future__ import annotations

from collections.abc import Callable

from dashboard import errors_view, state

# ------------------------------------------------------------------ Datasets and Curate
def datasets(sel: state.Selection, wait=lambda: None, warn=None) -> None:
    """The first dataset's counts and thumbnail paths (the page lists ``data_root().resolve()``)."""
    from analysis.data.dataset import list_datasets
    from dashboard import dataset_tables

    found = list_datasets(state.data_root().resolve())
    if found:
        dataset_tables.overview(found[0])


def curate(sel: state.Selection, wait=lambda: None, warn=None) -> None:
    """The dataset in the URL (else the first), its scores and its first class's review
    order as the page shows it at first (all images, street order when scored, groups kept)."""
    from analysis.data import review
    from analysis.data.dataset import Dataset, list_datasets
    from dashboard import dataset_tables

    names = [ds.name for ds in list_datasets(state.data_root())]
    if not names:
        return
    name = state.url_get("dataset", names[0])
    ds = Dataset(state.data_root() / (name if name in names else names[0]))
    table = dataset_tables.load_table(ds)
    classes = list(review.class_counts(table).index)
    wait()
    scores, _ = dataset_tables.load_scores(ds)
    if classes:
        wait()
        dataset_tables.load_queue(ds, table, scores, classes[0], order="street" if scores is not None else "file")


FIRST_VIEWS: dict[str, Callable[..., None]] = {
    "errors": errors_view.first_view,  # the held-out rows, their mistakes' concepts, the strips listed
    "datasets": datasets, "curate": curate,
}
"""Page (its ``app_pages`` file name) → what its first view computes, called as
``view(sel, wait, warn)``: ``wait()`` between its steps, ``warn(line)`` for a problem the page
would show (the warm-up logs it: it draws nothing). The warm-up runs them in this order. A
page that is slow on its first visit adds its own here."""
