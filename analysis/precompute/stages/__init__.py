"""One module per precompute stage; each defines ``STAGE`` (see ``analysis.precompute.stage``)."""
