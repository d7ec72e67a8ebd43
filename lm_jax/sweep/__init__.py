"""Ablation sweeps: `python -m lm_jax.sweep --sweep=configs/sweeps/<name>.py` (docs/sweeps.md).

Sweep files import their helpers from here; nothing here starts JAX."""
from lm_jax.sweep.spec import SweepError, auto_name, load_sweep, product, zip_axes

__all__ = ['SweepError', 'auto_name', 'load_sweep', 'product', 'zip_axes']
