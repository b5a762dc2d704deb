"""Streamlit's "magic" writes every bare expression of a page script to the page, strings
included: a docstring under a constant printed it between the title and the content (found
on the Sample page). Only the module docstring may be a bare string."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[2] / "dashboard" / "app_pages").glob("*.py"))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_no_bare_string_below_the_module_docstring(page):
    body = ast.parse(page.read_text()).body
    stray = [node.lineno for node in body[1:]
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)]
    assert not stray, f"{page.name}: bare strings at lines {stray} would be written to the page"
