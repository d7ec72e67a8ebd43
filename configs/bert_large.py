"""BERT large (340M parameters; Devlin et al. 2019), with the recipe of configs/bert_base.py at the
published shape (lm_jax/config/sizes.py). A job for accelerators; shard it with
--config.mesh.fsdp / --config.mesh.tensor (docs/architecture.md).

tiny    configs/bert_base.py:tiny (for tests).
          python -m lm_jax.main --config=configs/bert_large.py:tiny
"""
from lm_jax.config.sizes import sized


def get_config(variant=None):
  return sized('bert_base', 'bert_large', variant)
