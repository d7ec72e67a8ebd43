"""lm_jax.evaluation."""
