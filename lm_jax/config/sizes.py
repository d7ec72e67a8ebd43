"""The published shapes of the larger models, which configs/<model>_<size>.py apply to the small
configs' recipes: one table, so that a size is a line and each config file stays a few lines."""
import os

import ml_collections

from lm_jax.config import schema

# Raffel et al. 2020 Table 14 (t5) and the T5 v1.1 checkpoints' config.json (gated-GELU, untied
# output projection, no dropout in pretraining); Radford et al. 2019 Table 2 (GPT-2); Devlin et
# al. 2019 §3 (BERT).
SHAPES = {
    't5_base': dict(d_model=768, num_heads=12, head_dim=64, d_ff=3072, num_encoder_layers=12,
                    num_decoder_layers=12),
    't5_large': dict(d_model=1024, num_heads=16, head_dim=64, d_ff=4096, num_encoder_layers=24,
                     num_decoder_layers=24),
    't5_v1_1_base': dict(d_model=768, num_heads=12, head_dim=64, d_ff=2048,
                         num_encoder_layers=12, num_decoder_layers=12),
    't5_v1_1_large': dict(d_model=1024, num_heads=16, head_dim=64, d_ff=2816,
                          num_encoder_layers=24, num_decoder_layers=24),
    'gpt2_medium': dict(d_model=1024, num_heads=16, head_dim=64, d_ff=4096, num_layers=24),
    'gpt2_large': dict(d_model=1280, num_heads=20, head_dim=64, d_ff=5120, num_layers=36),
    'bert_large': dict(d_model=1024, num_heads=16, head_dim=64, d_ff=4096, num_layers=24),
}
# What T5 v1.1 changed besides the shape.
T5_V1_1 = dict(feed_forward='gated-gelu', tie_embeddings=False, dropout_rate=0.0)
_CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'configs')


def sized(small: str, size: str, variant: str | None, v1_1: bool = False
          ) -> ml_collections.ConfigDict:
  """configs/<small>.py at the shape SHAPES[size]; variant 'tiny' keeps the small file's tiny
  shape (with T5 v1.1's options when `v1_1`), for tests."""
  spec = os.path.join(_CONFIGS, f'{small}.py') + (':tiny' if variant == 'tiny' else '')
  config = schema.load_config(spec)
  if variant not in (None, 'tiny'):
    raise ValueError(f'Unknown variant {variant!r} of the {size} config; use tiny or none.')
  if variant is None:
    config.model.update(SHAPES[size])
  if v1_1:
    config.model.update(T5_V1_1)
  return config
