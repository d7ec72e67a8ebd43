"""GPT-2 small (124M with GPT-2's 50257-id vocabulary) pretrained as a causal language model,
with the GPT-3-small / nanoGPT optimiser recipe.

The model's vocabulary only has to cover the tokenizer: the default pipeline trains a
SentencePiece model of data.tokenizer_vocab_size ids plus data.num_extra_ids sentinels, so
vocab_size >= tokenizer_vocab_size + num_extra_ids. 50257 keeps GPT-2's real shape (and lets
converted HF checkpoints train with this recipe).

Each run writes to runs/gpt2_small_<variant> (runs/gpt2_small without one; `--workdir` to change it)
and logs eval loss, perplexity and next-token accuracy to its metrics.jsonl. Times are wall clock on
a shared 2-core CPU, compilation included (2026-12).

(none)  the real shape and recipe: 480 rows x 1024 tokens, AdamW 6e-4, 2000 warmup, cosine.
          python -m lm_jax.main --config=configs/gpt2_small.py
        expect: not measured here (a job for accelerators; no published figure for this setup).
tiny    a 2-layer model for tests, 200 steps on packed 128-token rows.
          python -m lm_jax.main --config=configs/gpt2_small.py:tiny
        expect: about 37 s; at step 200 eval loss 5.435, perplexity 229.3, accuracy 0.094.
"""
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = default_config()
  # GPT-2 §2.3 (Radford et al. 2019) and its released hparams: 12 layers of 768, 12 heads,
  # 1024 positions, pre-LN with a final LayerNorm, gelu (tanh), dropout 0.1, init std 0.02.
  c.model.update(
      name='gpt', vocab_size=50257, d_model=768, num_heads=12, head_dim=64, d_ff=3072,
      num_layers=12, max_length=1024, activation='gelu_tanh', norm_position='pre',
      layer_norm_epsilon=1e-5, dropout_rate=0.1, attention_dropout_rate=0.1, init_std=0.02,
      position_embedding='learned', tie_embeddings=True, dtype='float32',
      attention_impl='exact')  # 'fused': cuDNN flash attention on GPU (docs/accelerators.md)
  # Documents end to end in 1024-token rows (GPT-2 §2.3: context 1024), attention kept within
  # each document by the segment ids.
  c.data.objective = 'causal_lm'
  c.data.pack = True
  c.data.targets_length = 1024
  # GPT-2's paper gives no optimiser. GPT-3 Table 2.1 / §2.2 for its 125M "Small" model: Adam
  # b1 0.9, b2 0.95, eps 1e-8, lr 6e-4 decayed by a cosine to 10%, grad-norm clip 1.0, weight
  # decay 0.1, batch 0.5M tokens. nanoGPT's config/train_gpt2.py makes that 480 x 1024 tokens a
  # step (12 rows x 5 accumulation steps x 8 GPUs), 2000 warmup steps, 600k steps (~300B tokens).
  c.num_train_steps = 600_000
  c.per_device_batch_size = 480
  c.optimizer.update(name='adamw', learning_rate=6e-4, schedule='cosine', warmup_steps=2000,
                     end_learning_rate_fraction=0.1, b1=0.9, b2=0.95, eps=1e-8,
                     weight_decay=0.1, grad_clip_norm=1.0)
  c.loss.z_loss = 0.0  # GPT-2 trains on plain cross-entropy.
  c.loss.label_smoothing = 0.0
  c.eval_every_steps = 1000  # nanoGPT's eval_interval.
  c.checkpoint_every_steps = 1000
  c.log_every_steps = 100

  if variant == 'tiny':
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=256,
                   num_layers=2, max_length=128, dropout_rate=0.0, attention_dropout_rate=0.0)
    c.data.tokenizer_vocab_size = 2000  # + 100 sentinels = 2100 ids <= vocab_size
    c.data.targets_length = 128
    c.num_train_steps = 200
    c.per_device_batch_size = 16
    c.optimizer.update(learning_rate=3e-3, warmup_steps=20)
    c.log_every_steps = 10
    c.eval_every_steps = 100
    c.checkpoint_every_steps = 100
    c.num_eval_batches = 4
  elif variant is not None:
    raise ValueError(f'Unknown variant {variant!r} of configs/gpt2_small.py; use tiny.')
  return c
