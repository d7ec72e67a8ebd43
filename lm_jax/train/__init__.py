"""lm_jax.train."""
