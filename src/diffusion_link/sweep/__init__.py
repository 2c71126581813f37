"""Ablation sweeps: a grid of parameter overrides, one tracked Kedro run per point.

``python -m diffusion_link.sweep --pipeline bridge_training,evaluation --grid
"bridge_training.bridges.diffusion_link.model.s_star=100,200,300"`` (see ``--help`` and the
README's "Sweeps"). :mod:`~diffusion_link.sweep.grid` and :mod:`~diffusion_link.sweep.table`
are pure functions; :mod:`~diffusion_link.sweep.runner` runs the Kedro sessions.
"""
