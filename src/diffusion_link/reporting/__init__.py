"""Figures and written summaries of runs (plots, training tables)."""
