"""Can an explanation be trusted? Sanity checks for the dashboard's attribution maps,
computed for the user's own model and data.

``randomization``  model-parameter randomisation (Adebayo et al., 2018): cascading and
                   independent, Spearman rank correlation and SSIM to the trained maps
``faithfulness``   deletion / insertion curves and their areas against random orders
``localization``   pointing game and energy inside the ground-truth cues (demo data)
``verdict``        plain-words verdicts and the thresholds behind them
``maps``           the methods' maps, computed alike for trained and randomised models
``sampling``       which images are checked; the results' long form

The ``reliability`` stage of ``streetlens analyze`` (``analysis/precompute/stages``) runs
them and stores the ``reliability`` and ``reliability_curves`` tables in the run's cache.
"""
