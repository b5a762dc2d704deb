"""URL-backed widgets of dashboard/state.py."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page() -> None:
    import streamlit as st

    from dashboard import state

    class _Browser:
        """A container whose selectbox answers as a browser did on the Sample page: with
        the label an option had on the previous image ("predicted (london)")."""

        def __init__(self, answer: str):
            self.answer = answer

        def selectbox(self, label, options, index=0, key=None, **kw):
            return self.answer

    answer = st.query_params.get("answer")
    container = _Browser(answer) if answer else st
    names = ["london", "tokyo"]
    pred = names[int(st.query_params.get("image", "0"))]
    choice = state.url_selectbox("Class", ["__pred__", *names], "cls", default="__pred__", container=container,
                                 format_func=lambda o: f"predicted ({pred})" if o == "__pred__" else o)
    st.markdown(f"choice={choice} url={st.query_params.get('cls')}")


def test_a_label_from_an_earlier_run_means_the_urls_option():
    """Streamlit keeps a selectbox's value as its label; a label the options no longer have
    (the predicted option is labelled anew for each image) came back as the value, and the
    Sample page failed with "'predicted (london)' is not in list" after a few Next clicks
    on the million-image cache."""
    at = AppTest.from_function(_page)
    at.query_params.update({"image": "0", "cls": "tokyo"})
    at.run()
    assert at.markdown[0].value == "choice=tokyo url=tokyo"
    at.query_params.update({"image": "1", "answer": "predicted (london)"})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.markdown[0].value == "choice=tokyo url=tokyo"  # what the URL says, not the stale label
    at.query_params.update({"cls": "__pred__"})
    at.run()
    assert at.markdown[0].value == "choice=__pred__ url=__pred__"
    at.query_params.update({"answer": "london"})  # a real option is taken as it is
    at.run()
    assert at.markdown[0].value == "choice=london url=london"
