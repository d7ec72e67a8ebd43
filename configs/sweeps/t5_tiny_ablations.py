"""Which Transformer modifications matter for the tiny T5? One factor at a time from the
baseline (T5's own choices), 2 seeds each, in the spirit of Raffel et al. 2020 (§3.2) and
Narang et al. 2021 ("Do Transformer Modifications Transfer Across Implementations and
Applications?").

  python -m lm_jax.sweep --sweep=configs/sweeps/t5_tiny_ablations.py

expect: 14 runs in about 45 minutes on 2 CPU cores; the table and plot of 2026-12-07 are in the
README (docs/results/t5_tiny_ablations/).

Baseline: configs/t5_small.py:tiny (2 + 2 layers, d_model 64), span corruption on the embedded
corpus, 3,000 steps. Each point changes one thing: the position encoding (T5's relative bias,
sinusoidal, learned, rotary), the feed-forward (ReLU, T5.1.1's gated-GELU), where the norm sits
(pre, post) and dropout (0, 0.1). A seed sets the initialisation, the data order and the eval
examples' masks; every point sees the same ones for a given seed, so points compare pairwise.
"""
BASE = 'configs/t5_small.py:tiny'
SEEDS = (0, 1)
# 15x the tiny default; evaluation on 16 batches (256 examples) every 500 steps.
COMMON = {'num_train_steps': 3000, 'eval_every_steps': 500, 'checkpoint_every_steps': 500,
          'num_eval_batches': 16, 'log_every_steps': 50}
METRIC, GOAL = 'eval/loss', 'min'
COLUMNS = ('eval/loss', 'eval/perplexity', 'eval/token_accuracy')


def points(add):
  add('baseline')
  for kind in ('sinusoidal', 'learned', 'rope'):
    add(f'position_{kind}', {'model.position_embedding': kind})
  add('gated_gelu', {'model.feed_forward': 'gated-gelu'})
  add('post_norm', {'model.norm_position': 'post'})
  add('dropout_0.1', {'model.dropout_rate': 0.1})
