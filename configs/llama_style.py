"""A Llama-style decoder (Touvron et al. 2023) as options of the GPT family: RMSNorm before each
sublayer, a SwiGLU feed-forward block, rotary positions, no biases and grouped-query attention
(`:tiny` also unties the output projection, as Llama does; SmolLM ties it). The default is
SmolLM-135M's shape (30 layers of 576, 9 query and 3 key/value heads, d_ff 1536), trained as
a causal LM on the embedded corpus with the GPT-3-small recipe of configs/gpt2_small.py.

tiny    2 layers of 64, 4 query and 2 key/value heads, 200 steps (for tests).
          python -m lm_jax.main --config=configs/llama_style.py:tiny
"""
import os

from lm_jax.config.schema import default_config, load_config


def get_config(variant=None):
  c = default_config()
  c.model.update(
      name='gpt', vocab_size=49152, d_model=576, num_heads=9, head_dim=64, num_kv_heads=3,
      d_ff=1536, num_layers=30, max_length=2048, activation='swiglu', norm='rms_norm',
      norm_position='pre', layer_norm_epsilon=1e-5, use_bias=False, position_embedding='rope',
      rope_base=10_000.0, tie_embeddings=True, dropout_rate=0.0, attention_dropout_rate=0.0,
      init_std=0.02, dtype='float32')
  c.data.objective = 'causal_lm'
  c.data.pack = True
  c.data.targets_length = 2048
  c.num_train_steps = 600_000
  c.per_device_batch_size = 256
  c.optimizer.update(name='adamw', learning_rate=3e-3, schedule='cosine', warmup_steps=2000,
                     end_learning_rate_fraction=0.1, b1=0.9, b2=0.95, eps=1e-8,
                     weight_decay=0.1, grad_clip_norm=1.0)
  c.loss.z_loss = 0.0
  c.eval_every_steps = 1000
  c.checkpoint_every_steps = 1000
  c.log_every_steps = 100

  if variant == 'tiny':  # gpt2_small.py:tiny's data and schedule, with this model's options
    model = c.model
    c = load_config(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                 'gpt2_small.py:tiny'))
    c.model.update(model)
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, num_kv_heads=2,
                   d_ff=192, num_layers=2, max_length=128, tie_embeddings=False)
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/llama_style.py; use tiny.')
  return c
