"""Relative links between pages, one spelling each: a page that names a city links to
that city's Portrait, an image to the Sample page. Values are URL-encoded, so a city or
an id cannot break out of the link."""

from __future__ import annotations

from urllib.parse import urlencode


def sample_url(run: str, image_id: str, compare: str | None = None, cls: str | None = None) -> str:
    """The Sample page showing one image (beside run ``compare``'s maps when given; with
    the maps of city ``cls`` instead of the predicted one)."""
    extra = {k: v for k, v in (("compare", compare), ("cls", cls)) if v}
    return "sample?" + urlencode({"run": run, "id": image_id, **extra})


def portrait_url(run: str, city: str, concept: int | None = None) -> str:
    """``city``'s Portrait page (opened at ``concept`` when given)."""
    query = {"run": run, "city": city}
    if concept is not None:
        query["concept"] = int(concept)
    return "portrait?" + urlencode(query)


def city_link(run: str, city: str, text: str | None = None) -> str:
    """A markdown link to ``city``'s portrait (``text`` defaults to the city)."""
    shown = (text or city).replace("[", "(").replace("]", ")")
    return f"[{shown}]({portrait_url(run, city)})"
