"""T5-small (60M with a 32k vocabulary) pretrained with span corruption, the T5 paper's recipe.

Variants (`--config=configs/t5_small.py:<variant>`):
  (none)  the real shape and recipe: batch 128 x 512 tokens, Adafactor, rsqrt from 0.01.
  cpu     the real shape on a laptop CPU: inputs 128, batch 8, 200 steps (about 7 minutes).
  tiny    a 2-layer model for tests; trains in about a minute on CPU.
  mini    tiny at width 128 (d_ff 512): fine-tunes on the code summaries on CPU in half an hour.
"""
from lm_jax.config_schema import default_config


def get_config(variant=None):
  c = default_config()
  c.model.update(
      name='t5', vocab_size=32128, d_model=512, num_heads=8, head_dim=64, d_ff=2048,
      num_encoder_layers=6, num_decoder_layers=6, feed_forward='relu', tie_embeddings=True,
      dropout_rate=0.1, relative_attention_num_buckets=32, relative_attention_max_distance=128,
      layer_norm_epsilon=1e-6, dtype='float32')
  # T5 §3.1.2: 2^19 steps at batch 128 x 512 tokens, inverse-sqrt decay from 0.01 after 10^4 steps.
  c.num_train_steps = 524_288
  c.per_device_batch_size = 128
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 5000
  c.log_every_steps = 100

  if variant == 'cpu':
    c.num_train_steps = 200  # About 7 minutes on 2 CPU cores, corpus and tokenizer included.
    c.per_device_batch_size = 8
    c.data.inputs_length = 128
    c.data.targets_length = 29   # T5's random_spans_helper for 128 inputs.
    c.model.dropout_rate = 0.0
    c.optimizer.warmup_steps = 100
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 10
  elif variant == 'tiny':
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=128,
                   num_encoder_layers=2, num_decoder_layers=2, dropout_rate=0.0)
    c.data.tokenizer_vocab_size = 2000
    c.data.inputs_length = 64
    c.data.targets_length = 14
    c.num_train_steps = 200
    c.per_device_batch_size = 16
    c.optimizer.warmup_steps = 50
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 4
  elif variant == 'mini':
    # The tiny model twice as wide: 0.92M parameters besides the embeddings, 5.6x tiny's.
    c = get_config('tiny')
    c.model.update(d_model=128, head_dim=32, d_ff=512)
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/t5_small.py; use cpu, tiny or mini.')
  return c
