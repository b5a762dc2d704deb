"""Explanations: all-class Grad-CAM, channel attribution, NMF concepts, feature
visualisation, and per-sample attribution methods (one registry, one signature)."""
