"""lm_jax: Transformer language models in JAX/Flax, from pretraining to evaluation."""
from lm_jax.evaluation.decoding import generate

__all__ = ['generate']
