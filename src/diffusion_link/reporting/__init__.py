"""Figures and written summaries of runs: training curves and tables, Figure 2 (UMAP), and
report.json / report.md with the paper's numbers beside this run's. No Kedro."""
