"""lm_jax: Transformer language models in JAX/Flax, from pretraining to evaluation."""
