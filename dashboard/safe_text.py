"""User text (concept names, file names) made safe to put into ``st.markdown``: HTML
escaped, and every markdown / Streamlit directive character backslash-escaped, so a
name like ``<b>x</b>``, ``**x**``, ``[x](javascript:…)``, ``:red[x]`` or ``$x$`` shows as
typed."""

from __future__ import annotations

import html
import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$>])")


def plain(text: object) -> str:
    """``text`` exactly as typed, inside markdown (also with ``unsafe_allow_html``)."""
    return _MARKDOWN.sub(r"\\\1", html.escape(str(text), quote=False))


def html_text(text: object) -> str:
    """``text`` inside raw HTML (``st.html`` or an HTML block)."""
    return html.escape(str(text), quote=True)
