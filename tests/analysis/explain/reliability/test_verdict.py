"""Verdicts in plain words from hand-made reliability tables."""
from __future__ import annotations

import pandas as pd

from analysis.explain.reliability import verdict as vd
from analysis.explain.reliability.sampling import long_form


def table(rank_last: dict[str, float], deletion: dict[str, float], random_del=0.43, pointing=None,
          logits: dict[str, float] | None = None):
    rows = []
    for m, r in rank_last.items():
        lg = (logits or {}).get(m, (1 + r) / 2)
        for step, layer, ms, val in ((0, "original", "", 1.0), (1, "logits", "logits", lg),
                                     (2, "shared.0", "head", r + 0.01), (3, "trunk.block3", "last_block", r),
                                     (4, "trunk.block1", "all", r - 0.01)):
            rows.append(dict(check="randomization", metric="rank_corr_abs", method=m, mode="cascade", step=step,
                             layer=layer, milestone=ms, value=val, std=0.1, n=8))
    for m, d in deletion.items():
        rows += [dict(check="faithfulness", metric="deletion_auc", method=m, value=d, n=8),
                 dict(check="faithfulness", metric="deletion_auc_diff", method=m, value=d - random_del, n=8),
                 dict(check="faithfulness", metric="insertion_auc", method=m, value=0.8, n=8),
                 dict(check="faithfulness", metric="insertion_auc_diff", method=m, value=0.2, n=8)]
    rows.append(dict(check="faithfulness", metric="deletion_auc", method="random", value=random_del, n=8))
    for m, p in (pointing or {}).items():
        rows += [dict(check="localization", metric="pointing_game", method=m, subset="correct", **{"class": "all"},
                      value=p, n=100),
                 dict(check="localization", metric="pointing_chance", method=m, subset="correct",
                      **{"class": "all"}, value=0.2, n=100)]
    return long_form(pd.DataFrame(rows), "x").assign(check=[r["check"] for r in rows])


def test_pass_and_fail_texts():
    t = table({"gradcam": 0.12, "guided_backprop": 0.85, "gradient": 0.55},
              {"gradcam": 0.21, "guided_backprop": 0.45, "gradient": 0.41}, pointing={"gradcam": 0.87})
    v = vd.verdicts_from_table(t)
    assert list(v) == ["gradcam", "gradient", "guided_backprop"]
    g = v["gradcam"]
    assert g.randomization == vd.PASSES and g.faithfulness == vd.FAITHFUL
    assert g.text.startswith("Grad-CAM: passes the randomisation check (rank correlation falls to 0.12 once "
                             "the last block is randomised); deletion AUC 0.21 vs 0.43 for a random order: faithful")
    assert "points at its city's cues in 87% of correctly classified test images (chance 20%)" in g.text
    assert g.level == "pass" and g.icon == "✅"
    assert g.badge == ("Grad-CAM: passes randomisation · deletion AUC 0.21 vs 0.43 random · "
                       "pointing game 87%")
    b = v["guided_backprop"]
    assert b.randomization == vd.FAILS and b.faithfulness == vd.UNFAITHFUL and b.icon == "❌" and b.level == "fail"
    assert "FAILS the randomisation check — its maps stay similar (0.85) when the model's weights are random" \
        in b.text
    assert v["gradient"].randomization == vd.PARTLY and v["gradient"].faithfulness == vd.BARELY
    assert v["gradient"].icon == "⚠️"
    assert g.rank_corr_logits == (1 + 0.12) / 2 and g.rank_corr_all == 0.12 - 0.01
    assert g.check_layer == "trunk.block3"


def test_thresholds_are_boundaries():
    assert vd.randomization_word(0.39) == vd.PASSES and vd.randomization_word(0.4) == vd.PARTLY
    assert vd.randomization_word(0.7) == vd.FAILS and vd.randomization_word(None) is None
    assert vd.faithfulness_word(-0.05) == vd.FAITHFUL and vd.faithfulness_word(-0.01) == vd.BARELY
    assert vd.faithfulness_word(0.0) == vd.UNFAITHFUL


def test_empty_and_unchecked():
    assert vd.verdicts_from_table(None) == {} and vd.verdicts_from_table(pd.DataFrame()) == {}
    v = vd.Verdict("gradient", "Gradient (saliency)")
    assert v.text == "Gradient (saliency): not checked yet" and v.icon == "❔"


def test_class_insensitive_method_only_partly_passes():
    t = table({"guided_backprop": 0.28, "gradcam": 0.1}, {"guided_backprop": 0.40, "gradcam": 0.2},
              logits={"guided_backprop": 0.76, "gradcam": 0.02})
    v = vd.verdicts_from_table(t)
    assert v["gradcam"].randomization == vd.PASSES
    b = v["guided_backprop"]
    assert b.randomization == vd.PARTLY and b.class_insensitive
    assert ("partly passes the randomisation check — it barely changes when only the output layer is random "
            "(rank correlation 0.76), so it hardly depends on the class it explains; it does change deeper "
            "down (0.28 once the last block is randomised)") in b.text
