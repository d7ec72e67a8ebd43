"""lm_jax: Transformer language models in JAX/Flax, from pretraining to evaluation."""

__all__ = ['generate']


def __getattr__(name):
  # Imported on first use, so that `import lm_jax.data` does not load the decoding stack.
  if name == 'generate':
    from lm_jax.generation.decoding import generate
    return generate
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
