"""Curation helpers that need a network: the scene classifier and the scoring pass that
fills a dataset's curation scores (the scores themselves live in ``analysis.data.scores``)."""
