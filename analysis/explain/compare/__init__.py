"""Comparing two runs on the same images: accuracy with intervals and a paired test
(stats), who gets which image right (agreement), where they look (maps), what they
represent (cka), which concepts they share (concepts). Pure functions on arrays and
tables; the compare stage and pages read the runs' caches and call these."""
