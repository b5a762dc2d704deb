"""What the UI says about each attribution method, readable without PyTorch: one
``MethodCard`` per registered method (label, resolution, sign, default display, on-demand
offer and its cost, a sentence about it).

Why apart from the method classes: those are torch code, and the dashboard lists and labels
methods on pages that only read the cache (Sample, Reliability, the trust badges), where
importing torch would cost 3–7 s on a fresh server. The registry
(:mod:`analysis.explain.registry`) stays the one place a method is looked up: it lists the
methods from these cards and, when a method module registers its class, copies the card
onto the class (``cls.label`` …) and refuses a method without a card. What a method *does*
(``needs_layer``, ``reduction``, ``demand_options``, ``passes``) stays in its class.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class MethodCard:
    """One method as the UI presents it (copied onto its class at registration)."""

    label: str
    """Human-readable name for the UI."""
    resolution: str
    """"input": pixel-level detail; "feature": computed at the feature map and upsampled."""
    signed: bool
    """Whether negative values mean something (evidence against the target)."""
    display: str = "magnitude"
    """How the map is best shown by default: "magnitude" or "signed" (red for, blue against)."""
    on_demand: bool = False
    """Offered per image on the Sample page (too costly for the whole dataset)."""
    cost: str = "about a second"
    """What a user waits the first time, on a CPU (then the map is read from disk)."""
    about: str = ""
    """One or two sentences for the UI: what the map shows, and its known weakness."""

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("a method card needs a label")
        if self.resolution not in ("input", "feature"):
            raise ValueError(f"{self.label}: resolution must be 'input' or 'feature', "
                             f"got {self.resolution!r}")
        if self.display not in ("magnitude", "signed"):
            raise ValueError(f"{self.label}: display must be 'magnitude' or 'signed', got {self.display!r}")


CARD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MethodCard))
"""The class attributes a card sets (a method class must not set them itself)."""

CARDS: dict[str, MethodCard] = {
    "gradcam": MethodCard("Grad-CAM", resolution="feature", signed=False),
    "gradcam_captum": MethodCard("Grad-CAM (captum)", resolution="feature", signed=False),
    "gradient": MethodCard("Gradient (saliency)", resolution="input", signed=False),
    "guided_backprop": MethodCard(
        "Guided backprop", resolution="input", signed=True, on_demand=True,
        about=("Gradients with negative values zeroed at every ReLU (Springenberg et al., 2015): sharp "
               "edges, but largely class-insensitive (Adebayo et al., 2018).")),
    "guided_gradcam": MethodCard(
        "Guided Grad-CAM", resolution="input", signed=True, on_demand=True,
        about=("Guided backprop × Grad-CAM (Selvaraju et al., 2017): pixel detail inside the "
               "class-discriminative regions.")),
    "integrated_gradients": MethodCard(
        "Integrated gradients", resolution="input", signed=True, display="signed", on_demand=True,
        cost="about 5–20 s on a CPU",
        about=("Gradients integrated along 50 steps from a black image to this one (Sundararajan et "
               "al., 2017); the map adds up to the logit difference.")),
    "occlusion": MethodCard("Occlusion", resolution="input", signed=True),
}
"""Method name → card; a method module registering a name without a card here is refused."""
