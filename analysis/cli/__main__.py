"""``python -m analysis.cli …``: what background jobs run."""

from analysis.cli import main

main()
