"""Can an explanation be trusted? Sanity checks for the dashboard's attribution maps,
computed for the user's own model and data.

``randomization``  model-parameter randomisation (Adebayo et al., 2018): cascading and
                   independent, Spearman rank correlation and SSIM to the trained maps
``faithfulness``   deletion / insertion curves and their areas against random orders
``localization``   pointing game and energy inside the ground-truth cues (demo data)
``verdict``        plain-words verdicts and the thresholds behind them
``maps``           the methods' maps, computed alike for trained and randomised models
``stage``          the opt-in ``reliability`` stage of ``streetlens analyze``

Results: ``cache/<run>/reliability.parquet`` (long form) and
``cache/<run>/reliability_curves.parquet`` (mean deletion/insertion curves).
"""

TABLE = "reliability.parquet"
CURVES = "reliability_curves.parquet"
