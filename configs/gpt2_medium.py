"""GPT-2 medium (355M parameters; Radford et al. 2019), with the recipe of configs/gpt2_small.py at
the published shape (lm_jax/config/sizes.py). A job for accelerators; shard it with
--config.mesh.fsdp / --config.mesh.tensor (docs/architecture.md).

tiny    configs/gpt2_small.py:tiny (for tests).
          python -m lm_jax.main --config=configs/gpt2_medium.py:tiny
"""
from lm_jax.config.sizes import sized


def get_config(variant=None):
  return sized('gpt2_small', 'gpt2_medium', variant)
