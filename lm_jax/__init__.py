"""lm_jax: Transformer language models in JAX/Flax, from pretraining to evaluation.

The Python entry points (lm_jax/api.py) for notebooks and scripts:
`load_config`, `train_and_evaluate`, `load_run`; `generate` decodes with a model in memory.
"""

__all__ = ['generate', 'load_config', 'load_run', 'train_and_evaluate', 'Run']
_API = ('load_config', 'load_run', 'train_and_evaluate', 'Run')


def __getattr__(name):
  # Imported on first use, so that `import lm_jax.data` (or a sweep file) does not load the
  # training and decoding stacks.
  if name == 'generate':
    from lm_jax.generation.decoding import generate
    return generate
  if name in _API:
    from lm_jax import api
    return getattr(api, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
