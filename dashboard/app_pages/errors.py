"""Errors: where the model goes wrong, and what it looked at when it did.

* the city head's confusion matrix for a split (held-out = val + test by default); click a
  cell — or pick true / predicted below it (both kept in the URL, ``?true=…&pred=…``) —
  to list the images of that cell, each as photo | Grad-CAM for the TRUE class |
  Grad-CAM for the PREDICTED class (from the analysis cache), with its confidence and a link to
  the Sample page;
* the most confident mistakes of the split (wrong predictions, most confident first),
  with the same maps: the errors a model is sure about are where shortcuts hide;
* why this city and not that one: for a misclassified image, each concept's contribution
  to logit(predicted) − logit(true) (what removing it takes away from that difference), as
  a line under every image and as bars for the image picked; for every confused pair, the
  concepts that set its mistakes apart (``concept_effects`` stage). Class and concept
  names link to the Portrait page;
* the error rate of each city, and the same for the group head (East / West).
"""

from __future__ import annotations


import pandas as pd
import streamlit as st

from analysis.explain import mistakes
from dashboard import errors_view as view
from dashboard import export_ui, state
from dashboard import why as why_ui
from dashboard.figures import atlas, charts, concept_charts
from dashboard.links import city_link, sample_url

SPLITS, SHOW, MISTAKES, GROUP_MISTAKES = view.SPLITS, view.SHOW, view.MISTAKES, view.GROUP_MISTAKES
COLUMNS = view.COLUMNS
CHART_CONFIG = {"displayModeBar": False}


# ------------------------------------------------------------------------ pictures
def show_images(sel: state.Selection, rows: pd.DataFrame, head: str = "city", per_row: int = 2,
                key: str = "grid", why: pd.DataFrame | None = None) -> None:
    """Each image as photo | true map | predicted map, with its confidence and a link;
    under a misclassified one, its strongest concepts (``why``: ``error_explanations``)."""
    t_col, p_col, conf_col = view.HEAD_COLUMNS[head]
    pics = view.strips(sel, rows, head)
    cols = []
    for i, r in enumerate(rows.to_dict("records")):
        if i % per_row == 0:  # a row of columns per line: the page reads left to right
            cols = st.columns(per_row)
        true, pred, pic = r[t_col], r[p_col], pics[i]
        with cols[i % per_row]:
            st.image(pic, width="stretch")
            conf = f"p({pred}) = {r[conf_col]:.0%}"
            if head == "city" and true != pred:
                conf += f" · p({true}) = {r['p_true']:.0%}"
            st.markdown(f"`{r['id']}` · **{true}** → **{pred}** · {conf} · {r['split']} · "
                        f"[open in Sample ↗]({sample_url(sel.name, r['id'])})")
            if why is not None and head == "city" and true != pred:
                mine = why[why["row"] == int(r["row"])].head(why_ui.WHY_TOP)
                if len(mine):
                    st.markdown(why_ui.why_line(sel.name, str(pred), str(true), mine), unsafe_allow_html=True)


# ------------------------------------------------------------------------ sections
def synced_selectbox(label: str, options: list, key: str, default, container, **kw):
    """A selectbox kept in the URL under ``key`` that code can also set (a clicked cell):
    its value lives in ``st.session_state["w_<key>"]``, seeded from the URL."""
    wkey = f"w_{key}"
    if st.session_state.get(wkey) not in options:
        current = state.url_get(key, default)
        st.session_state[wkey] = current if current in options else (default if default in options else options[0])
    choice = container.selectbox(label, options, key=wkey, **kw)
    state.url_set(**{key: choice})
    return choice

def _bump_chart() -> None:
    """The cell was picked by hand: forget the chart's click (a new chart widget)."""
    st.session_state["_errors_cm_gen"] = st.session_state.get("_errors_cm_gen", 0) + 1


def _apply_click(chart_key: str, labels) -> None:
    """A clicked confusion cell (from the last run) → the URL and the pickers."""
    points = state.chart_points(st.session_state.get(chart_key))
    if not points:
        return
    p = points[0]
    cd = p.get("customdata")
    if isinstance(cd, (list, tuple)) and len(cd) >= 2 and all(isinstance(v, (int, float)) for v in cd[:2]) \
            and p.get("curve_number", 1) == 1:
        true, pred = labels[int(cd[0])], labels[int(cd[1])]
    else:
        true, pred = p.get("y"), p.get("x")
    if true not in labels or pred not in labels:
        return
    done = st.session_state.get("_errors_applied")
    if done == (chart_key, true, pred):
        return
    st.session_state["_errors_applied"] = (chart_key, true, pred)
    state.url_set(true=true, pred=pred)
    st.session_state["w_true"], st.session_state["w_pred"] = true, pred  # the pickers follow


def city_section(sel: state.Selection, sub: pd.DataFrame, split: str,
                 why: pd.DataFrame | None = None) -> tuple[str, str]:
    """The confusion matrix, the error rates and the images of the chosen cell; returns
    the cell (true, predicted)."""
    labels = list(sel.labels.classes)
    cm = mistakes.confusion_counts(sub, labels)
    gen = st.session_state.get("_errors_cm_gen", 0)
    chart_key = f"errors_cm_{gen}"
    _apply_click(chart_key, labels)
    d_true, d_pred = mistakes.default_cell(cm, labels)

    cur_true = st.session_state.get("w_true", state.url_get("true", d_true))
    cur_pred = st.session_state.get("w_pred", state.url_get("pred", d_pred))
    left, right = st.columns([1.25, 1])
    with left:
        fig = charts.confusion_matrix(cm, labels, title=f"City head · {SPLITS[split]} · "
                                      f"{int(cm.trace())}/{int(cm.sum())} right")
        atlas.clickable_cells(fig, labels, cm)
        if cur_true in labels and cur_pred in labels:  # outline the cell listed below
            i, j = labels.index(cur_true), labels.index(cur_pred)
            fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                          line=dict(color="#d62728" if i != j else "#2ca02c", width=3))
        st.plotly_chart(fig, width="stretch", theme=None, on_select="rerun", selection_mode="points",
                        key=chart_key, config=CHART_CONFIG)
        st.caption("Rows: true city, columns: predicted (share of the row; count on hover). "
                   "Click a cell to list its images below.")
        export_ui.download_buttons(fig, f"confusion-city-{split}")
    with right:
        rates = mistakes.error_rates(sub, labels)
        fig_r = atlas.error_rate_bars(rates, title=f"Error rate per city · {SPLITS[split]}")
        st.plotly_chart(fig_r, width="stretch", theme=None, config=CHART_CONFIG, key="errors_rates")
        export_ui.download_buttons(fig_r, f"error-rate-city-{split}")

    st.subheader("Images in a cell")
    c1, c2, c3 = st.columns([1, 1, 1])
    true = synced_selectbox("True city", labels, "true", d_true, c1, on_change=_bump_chart)
    pred = synced_selectbox("Predicted city", labels, "pred", d_pred, c2, on_change=_bump_chart)
    show = c3.select_slider("Show at most", SHOW, value=SHOW[0], key="errors_show")
    rows = mistakes.cell_rows(sub, true, pred)
    kind = "right" if true == pred else "wrong"
    run = sel.name
    t_md, p_md = f"**{city_link(run, true)}**", f"**{city_link(run, pred)}**"
    if rows.empty:
        st.info(f"No {SPLITS[split]} image of {t_md} was predicted {p_md}.")
    else:
        st.markdown(f"**{len(rows)}** image{'s' if len(rows) != 1 else ''} of {t_md} predicted "
                    f"{p_md} in {SPLITS[split]} ({kind}; "
                    + ("most confident first" if true != pred else "least confident first")
                    + (f"; showing {show}" if len(rows) > show else "") + "). Each: the photo, "
                    "then Grad-CAM for the true city" + (", then for the predicted one" if true != pred else "")
                    + ("; under it, the concepts that pushed most towards one city rather than the other "
                       "(details below)." if true != pred and why is not None else "."))
        show_images(sel, rows.head(show), key="cell", why=why)
    return true, pred


def why_section(sel: state.Selection, sub: pd.DataFrame, split: str, true: str, pred: str,
                contrast: tuple[pd.DataFrame, pd.DataFrame] | str) -> None:
    """One misclassified image (of the chosen cell when it is a mistake): its concepts'
    contributions to logit(predicted) − logit(true), as a line and as bars."""
    st.subheader("Why this city and not that one")
    if isinstance(contrast, str):
        st.info(contrast)
        return
    why, _ = contrast
    if why.empty:
        st.success(f"No city mistakes in {SPLITS[split]}.")
        return
    st.caption("Each concept's contribution to logit(predicted) − logit(true): how much that difference "
               "falls when the concept is taken out of the image's activation at the target layer. "
               "Red, positive: it pushed the model towards the wrong city; green, negative: towards the "
               "right one. A name links to the concept's card in the portrait of the city it pushes "
               "towards; (auto): an automatic name nobody has confirmed yet.")
    pool = view.why_pool(why, true, pred)
    in_cell = (pool["true"] == true) & (pool["predicted"] == pred)
    info = {r["id"]: r for r in pool.to_dict("records")}
    ids = list(info)
    where = f"of {true} predicted {pred}" if in_cell.all() else f"in {SPLITS[split]}"
    pick = synced_selectbox(f"Misclassified image ({len(ids)} {where}, most confident first)", ids, "why",
                            ids[0], st, format_func=lambda i: f"{i} · {info[i]['true']} → {info[i]['predicted']} "
                                                              f"· p = {info[i]['p_pred']:.0%}")
    r = info[pick]
    mine = why[why["row"] == r["row"]]
    c1, c2 = st.columns([1, 1.25])
    with c1:
        one = pd.DataFrame({"row": [r["row"]], "class": [r["true"]], "pred_class": [r["predicted"]]})
        st.image(view.strips(sel, one)[0], width="stretch")
        st.markdown(f"`{pick}` · p({r['predicted']}) = {r['p_pred']:.0%} · p({r['true']}) = {r['p_true']:.0%} · "
                    f"[open in Sample ↗]({sample_url(sel.name, pick)})")
    with c2:
        st.markdown(why_ui.why_line(sel.name, r["predicted"], r["true"], mine.head(why_ui.WHY_TOP)), unsafe_allow_html=True)
        top = mine.head(why_ui.WHY_BARS)
        fig = concept_charts.contribution_bars(top["contribution"].to_numpy(),
                                               [why_ui.concept_label(x) for x in top.to_dict("records")],
                                               r["predicted"], r["true"])
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="errors_why_bars")
        st.caption(f"The {len(top)} concepts with the largest contributions, of {len(mine)}.")
        export_ui.download_buttons(fig, f"why-{r['predicted']}-over-{r['true']}-{pick}")


def mistakes_section(sel: state.Selection, sub: pd.DataFrame, split: str,
                     why: pd.DataFrame | None = None) -> None:
    st.subheader("Most confident mistakes")
    n = st.select_slider("How many", MISTAKES, value=MISTAKES[0], key="errors_n_mistakes")
    rows = mistakes.confident_mistakes(sub, "city", n)
    if rows.empty:
        st.success(f"No city mistakes in {SPLITS[split]}.")
        return
    st.caption("Wrong predictions sorted by the model's confidence in them: a confident mistake "
               "often means the model keys on something that is not the city.")
    show_images(sel, rows, key="mistakes", why=why)


def group_section(sel: state.Selection, sub: pd.DataFrame, split: str) -> None:
    groups = list(sel.labels.groups)
    st.subheader("Group head (" + " / ".join(groups) + ")")
    cm = mistakes.confusion_counts(sub, groups, head="group")
    left, right = st.columns([1, 1])
    with left:
        fig = charts.confusion_matrix(cm, groups, title=f"Group head · {SPLITS[split]} · "
                                      f"{int(cm.trace())}/{int(cm.sum())} right", height=300)
        st.plotly_chart(fig, width="stretch", theme=None, config=CHART_CONFIG, key="errors_cm_group")
        export_ui.download_buttons(fig, f"confusion-group-{split}")
    with right:
        rates = mistakes.error_rates(sub, groups, head="group")
        wrong = sub[~sub["correct_group"].astype(bool)]
        fig_r = atlas.error_rate_bars(mistakes.group_errors_by_city(sub, sel.labels.classes),
                                      title="Group errors per city (which cities get the wrong side)")
        st.plotly_chart(fig_r, width="stretch", theme=None, config=CHART_CONFIG, key="errors_rates_group")
        export_ui.download_buttons(fig_r, f"group-error-rate-city-{split}")
        st.caption(" · ".join(f"{r.group}: {r.errors}/{r.images} wrong" for r in rates.itertuples()))
    rows = mistakes.confident_mistakes(sub, "group", GROUP_MISTAKES)
    if rows.empty:
        st.success(f"No group mistakes in {SPLITS[split]}.")
    else:
        st.markdown(f"**Most confident group mistakes** ({int(len(wrong))} in all): Grad-CAM of the "
                    "true group next to the predicted one.")
        show_images(sel, rows, head="group", key="group")


def main() -> None:
    st.title("Errors")
    st.caption("Where the model goes wrong, and what it looked at when it did.")
    sel = state.require_analysis(state.select_run())
    split = state.url_selectbox("Split", list(SPLITS), "split", default=view.DEFAULT_SPLIT,
                                container=st.sidebar, format_func=lambda s: SPLITS[s])
    export_ui.talk_pack_builder(sel)
    sub = state.split_rows(sel, split, COLUMNS)
    if sub.empty:
        st.info(f"No images in {SPLITS[split]} for this run.")
        st.stop()
    wrong = int((~sub["correct"].astype(bool)).sum())
    wrong_g = int((~sub["correct_group"].astype(bool)).sum())
    m1, m2, m3 = st.columns(3)
    m1.metric(f"Images ({SPLITS[split]})", f"{len(sub):,}")
    m2.metric("City errors", f"{wrong:,}", help=f"{wrong / len(sub):.1%} of the images")
    m3.metric("Group errors", f"{wrong_g:,}", help=f"{wrong_g / len(sub):.1%} of the images")
    contrast = why_ui.contrast_tables(sel, sub, split)
    why = None if isinstance(contrast, str) else contrast[0]
    true, pred = city_section(sel, sub, split, why)
    st.divider()
    why_section(sel, sub, split, true, pred, contrast)
    why_ui.pairs_section(sel, split, true, pred, contrast, SPLITS[split])
    st.divider()
    mistakes_section(sel, sub, split, why)
    st.divider()
    group_section(sel, sub, split)


if __name__ == "__main__":
    main()
