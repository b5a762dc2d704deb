"""Plain-words verdicts from the reliability table: one per method, for the Reliability
page and the trust badge next to every map.

Thresholds (module constants, shown on the page):

* randomisation — the mean rank correlation of the absolute maps (``rank_corr_abs``)
  between the trained model and the cascade in which everything from the logits down to
  the trunk's last block (the block fine-tuning trains; ``BackboneSpec.last_block``) is
  random. A map that explains the model must have changed by then:
  ``< RANDOMIZATION_PASS`` (0.4) passes, ``>= RANDOMIZATION_FAIL`` (0.7) FAILS (the map
  is largely the same without the trained weights: it shows the image, e.g. its edges, not
  what the model uses), in between "partly" (it keeps a good part of its ranking).
  Adebayo et al. report rank correlations near 0 for Grad-CAM and ~0.2–0.4 for gradients
  once the top layers are random, ~0.8–1 for guided backprop and guided Grad-CAM.
  A second look at the first step: a map that still correlates ``>= RANDOMIZATION_FAIL``
  with the original once only the output layer (the logits) is random does not depend on
  the class it claims to explain; such a method at most "partly passes", whatever happens
  further down (Adebayo et al.; Nie et al., 2018, on guided backprop recovering the
  image rather than the decision).
* faithfulness — the deletion AUC (mean target probability while the map's top pixels are
  removed) against the same procedure in random pixel order, paired per image: at least
  ``FAITHFUL_MARGIN`` (0.05) below random is "faithful", below random but by less is
  "barely better than random", otherwise "no better than random". The insertion AUC is
  reported beside it.
* localisation — reported with its chance level (a random point's hit rate), no verdict
  word: whether a model *should* look at the annotated cues is a question about the
  model, not the explanation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from analysis.explain.reliability.maps import DEFAULT_METHODS, method_label

RANDOMIZATION_PASS = 0.4
RANDOMIZATION_FAIL = 0.7
FAITHFUL_MARGIN = 0.05

PASSES, PARTLY, FAILS = "passes", "partly passes", "FAILS"
FAITHFUL, BARELY, UNFAITHFUL = "faithful", "barely better than random", "no better than random"


@dataclass
class Verdict:
    """What the checks say about one method (None where a check did not run)."""

    method: str
    label: str
    randomization: str | None = None
    rank_corr: float | None = None
    """Mean rank correlation (abs) with the last block randomised (cascade)."""
    rank_corr_logits: float | None = None
    rank_corr_all: float | None = None
    check_layer: str = ""
    randomization_n: int = 0
    faithfulness: str | None = None
    deletion_auc: float | None = None
    deletion_random: float | None = None
    insertion_auc: float | None = None
    insertion_random: float | None = None
    faithfulness_n: int = 0
    pointing: float | None = None
    pointing_chance: float | None = None
    pointing_n: int = 0
    energy: float | None = None
    mask_area: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        """"pass", "warn", "fail" or "unknown": the overall colour of the verdict."""
        if self.randomization == FAILS or self.faithfulness == UNFAITHFUL:
            return "fail"
        if self.randomization == PASSES and self.faithfulness in (FAITHFUL, None):
            return "pass"
        if self.randomization is None and self.faithfulness is None:
            return "unknown"
        return "warn"

    @property
    def icon(self) -> str:
        """Unicode mark of ``level`` (terminal); the dashboard uses Material icons."""
        return {"pass": "✅", "warn": "⚠️", "fail": "❌", "unknown": "❔"}[self.level]

    @property
    def class_insensitive(self) -> bool:
        """Still similar once only the logits are random: the map ignores the class."""
        return self.rank_corr_logits is not None and self.rank_corr_logits >= RANDOMIZATION_FAIL

    def randomization_text(self) -> str:
        if self.randomization is None:
            return ""
        where = "once the last block is randomised"
        if self.randomization == PARTLY and self.class_insensitive and (
                self.rank_corr is None or self.rank_corr < RANDOMIZATION_PASS):
            return (f"partly passes the randomisation check — it barely changes when only the output "
                    f"layer is random (rank correlation {self.rank_corr_logits:.2f}), so it hardly depends on "
                    f"the class it explains; it does change deeper down ({self.rank_corr:.2f} once the last "
                    "block is randomised)")
        if self.randomization == PASSES:
            return (f"passes the randomisation check (rank correlation falls to {self.rank_corr:.2f} "
                    f"{where})")
        if self.randomization == FAILS:
            return (f"FAILS the randomisation check — its maps stay similar ({self.rank_corr:.2f}) when "
                    "the model's weights are random; it shows the image's structure (edges), not what "
                    "the model uses")
        return (f"partly passes the randomisation check — rank correlation still {self.rank_corr:.2f} "
                f"{where}: part of the map does not depend on the trained weights")

    def faithfulness_text(self) -> str:
        if self.faithfulness is None:
            return ""
        text = (f"deletion AUC {self.deletion_auc:.2f} vs {self.deletion_random:.2f} for a random order: "
                f"{self.faithfulness}")
        if self.insertion_auc is not None and self.insertion_random is not None:
            text += f" (insertion AUC {self.insertion_auc:.2f} vs {self.insertion_random:.2f})"
        return text

    def localization_text(self) -> str:
        if self.pointing is None:
            return ""
        text = (f"points at its city's cues in {self.pointing:.0%} of correctly classified test images "
                f"(chance {self.pointing_chance:.0%})")
        if self.energy is not None and self.mask_area is not None:
            text += f", {self.energy:.0%} of its mass inside them (the cues cover {self.mask_area:.0%})"
        return text

    @property
    def text(self) -> str:
        """The verdict in plain words, e.g. "Grad-CAM: passes the randomisation check (…);
        deletion AUC 0.21 vs 0.43 for a random order: faithful"."""
        parts = [p for p in (self.randomization_text(), self.faithfulness_text(), self.localization_text()) if p]
        if not parts:
            return f"{self.label}: not checked yet"
        return f"{self.label}: " + "; ".join(parts) + "."

    @property
    def badge(self) -> str:
        """One short line for the trust badge next to a map."""
        bits = []
        if self.randomization is not None:
            word = {PASSES: "passes", PARTLY: "partly passes", FAILS: "FAILS"}[self.randomization]
            bits.append(f"{word} randomisation")
        if self.deletion_auc is not None:
            bits.append(f"deletion AUC {self.deletion_auc:.2f} vs {self.deletion_random:.2f} random")
        if self.pointing is not None:
            bits.append(f"pointing game {self.pointing:.0%}")
        return f"{self.label}: " + (" · ".join(bits) if bits else "not checked yet")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _pick(df: pd.DataFrame, **eq) -> pd.DataFrame:
    for k, v in eq.items():
        df = df[df[k] == v]
    return df


def randomization_word(rho: float | None) -> str | None:
    if rho is None:
        return None
    if rho < RANDOMIZATION_PASS:
        return PASSES
    if rho >= RANDOMIZATION_FAIL:
        return FAILS
    return PARTLY


def faithfulness_word(deletion_diff: float | None) -> str | None:
    if deletion_diff is None:
        return None
    if deletion_diff <= -FAITHFUL_MARGIN:
        return FAITHFUL
    if deletion_diff < 0:
        return BARELY
    return UNFAITHFUL


def verdict_for(table: pd.DataFrame, method: str) -> Verdict:
    """The verdict of ``method`` from a reliability table."""
    v = Verdict(method, method_label(method))
    t = table[table["method"] == method]
    rnd = _pick(t, check="randomization", mode="cascade", metric="rank_corr_abs")
    if not rnd.empty:
        rnd = rnd.sort_values("step")
        mark = rnd[rnd["milestone"] == "last_block"]
        row = (mark if not mark.empty else rnd[rnd["milestone"] == "all"]).head(1)
        if row.empty:
            row = rnd.tail(1)
        v.rank_corr = _num(row["value"].iat[0])
        v.check_layer = str(row["layer"].iat[0])
        v.randomization_n = int(row["n"].iat[0])
        logits = rnd[rnd["milestone"] == "logits"]
        v.rank_corr_logits = _num(logits["value"].iat[0]) if not logits.empty else None
        v.rank_corr_all = _num(rnd["value"].iat[-1])
        v.randomization = randomization_word(v.rank_corr)
        if v.randomization == PASSES and v.class_insensitive:
            v.randomization = PARTLY
    fa = _pick(table, check="faithfulness")
    dele, ins = _pick(fa, method=method, metric="deletion_auc"), _pick(fa, method=method, metric="insertion_auc")
    if not dele.empty:
        v.deletion_auc = _num(dele["value"].iat[0])
        v.faithfulness_n = int(dele["n"].iat[0])
        diff = _pick(fa, method=method, metric="deletion_auc_diff")
        rand = _pick(fa, method="random", metric="deletion_auc")
        d = _num(diff["value"].iat[0]) if not diff.empty else None
        if d is not None and v.deletion_auc is not None:
            # the random orders on the same images (IG runs on fewer): AUC minus the paired difference
            v.deletion_random = v.deletion_auc - d
        elif not rand.empty and v.deletion_auc is not None:
            v.deletion_random = _num(rand["value"].iat[0])
            d = None if v.deletion_random is None else v.deletion_auc - v.deletion_random
        v.faithfulness = faithfulness_word(d)
    if not ins.empty:
        v.insertion_auc = _num(ins["value"].iat[0])
        diff = _pick(fa, method=method, metric="insertion_auc_diff")
        if not diff.empty and v.insertion_auc is not None and _num(diff["value"].iat[0]) is not None:
            v.insertion_random = v.insertion_auc - float(diff["value"].iat[0])
    lo = _pick(t, check="localization", subset="correct")
    lo = lo[lo["class"] == "all"]
    pg = lo[lo["metric"] == "pointing_game"]
    if not pg.empty and int(pg["n"].iat[0]) > 0:
        v.pointing = _num(pg["value"].iat[0])
        v.pointing_n = int(pg["n"].iat[0])
        for attr, metric in (("pointing_chance", "pointing_chance"), ("energy", "energy"),
                             ("mask_area", "mask_area")):
            r = lo[lo["metric"] == metric]
            setattr(v, attr, _num(r["value"].iat[0]) if not r.empty else None)
    return v


def verdicts_from_table(table: pd.DataFrame | None) -> dict[str, Verdict]:
    """``{method: Verdict}`` for every method in the table (the dashboard's order first)."""
    if table is None or table.empty:
        return {}
    present = [m for m in table["method"].unique() if m not in ("random", "chance", "")]
    order = [m for m in DEFAULT_METHODS if m in present] + sorted(m for m in present if m not in DEFAULT_METHODS)
    return {m: verdict_for(table, m) for m in order}
