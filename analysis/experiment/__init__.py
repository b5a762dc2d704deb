"""``streetlens experiment``: the study's table on any dataset — a grid of runs
(backbones × modes × training fractions × seeds), trained resumably and summarised with
intervals across seeds and paired significance tests.

``grid``     the experiment and its cells (run names, saved as models/experiments/<name>.json)
``runner``   trains the missing runs
``results``  run table, summary across seeds, significance, a one-sentence verdict
"""
