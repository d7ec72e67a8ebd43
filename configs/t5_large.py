"""T5 large (770M parameters), with the recipe of configs/t5_small.py at the published shape
(lm_jax/config/sizes.py). A job for accelerators; shard it with --config.mesh.fsdp /
--config.mesh.tensor (docs/architecture.md).

tiny    configs/t5_small.py:tiny (for tests).
          python -m lm_jax.main --config=configs/t5_large.py:tiny
"""
from lm_jax.config.sizes import sized


def get_config(variant=None):
  return sized('t5_small', 't5_large', variant)
