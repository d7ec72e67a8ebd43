"""Pretraining with human preferences on Python code (Korbak et al. 2023, the PEP8 task): a GPT
trained from scratch on `python_code` (the standard library and pinned packages), each token
carrying its line's pycodestyle score, with one of the paper's objectives (docs/preference.md).

Variants (one objective each; add ',tiny' for the CPU scale, e.g. :conditional,tiny):
  mle           plain cross-entropy
  filtering     drop documents whose score is above 0.002361
  conditional   <|aligned|> / <|misaligned|> in front of each line (t = 0), 10% of lines none
  unlikelihood  log(1 - p) with alpha 0.01 on tokens of lines with a violation
  rwr           cross-entropy weighted by exp(-score / 10), lr 1e-3
  awr           a value head; weights exp(A / 1) clipped at 1000; 0.05 CE + 0.95 value MSE

  python -m lm_jax.main --config=configs/phf_pep8.py:conditional,tiny

Without ',tiny' the paper's scale: GPT-2 small (124M parameters), 3.3B tokens in batches of
64 x 1024 (50,354 steps), lr 8e-4 (1e-3 for RWR and AWR), samples of up to 640 tokens at
temperature 0.7 and top-p 0.9 (4,096 in the paper; 500 here per evaluation). A job for an
accelerator; the optimiser is HF Trainer's default that Korbak's code trains with (AdamW, linear
decay) with a 1% warmup, which the paper does not state.

expect (tiny, 2-core CPU, 2026-12-07): about 2 minutes a run; eval/loss falls from ~7.7 to
~4.2 in 300 steps; misalignment of the samples is in experiments/preference_pretraining.py's
table (README, "Pretraining with human preferences").
"""
from lm_jax.config.schema import default_config

OBJECTIVES = ('mle', 'filtering', 'conditional', 'unlikelihood', 'rwr', 'awr')
# Korbak et al. Table 3 (PEP8): each objective's hyperparameters.
SETTINGS = {
    'mle': {},
    'filtering': {'preference.threshold': 0.002361},
    'conditional': {'preference.threshold': 0.0, 'preference.drop_control_fraction': 0.1},
    'unlikelihood': {'preference.threshold': 0.0, 'preference.alpha': 0.01},
    'rwr': {'preference.beta': 10.0, 'optimizer.learning_rate': 1e-3},
    'awr': {'preference.alpha': 0.05, 'preference.beta': 1.0, 'preference.max_weight': 1000.0,
            'optimizer.learning_rate': 1e-3, 'model.value_head': True},
}


def get_config(variant=None):
  parts = [p for p in (variant or 'mle').split(',') if p]
  tiny = 'tiny' in parts
  objectives = [p for p in parts if p != 'tiny']
  if len(objectives) != 1 or objectives[0] not in OBJECTIVES:
    raise ValueError(f'Unknown variant {variant!r} of configs/phf_pep8.py; use one of '
                     f'{", ".join(OBJECTIVES)}, optionally with ",tiny".')
  objective, = objectives

  c = default_config()
  # GPT-2 small, as Korbak et al. §4 (from scratch; their tokenizer is GPT-2's, here one trained
  # on the code corpus, with two of its sentinel ids as the control tokens).
  c.model.update(
      name='gpt', vocab_size=32_128, d_model=768, num_heads=12, head_dim=64, d_ff=3072,
      num_layers=12, max_length=1024, activation='gelu_tanh', norm_position='pre',
      dropout_rate=0.1, attention_dropout_rate=0.1, position_embedding='learned',
      tie_embeddings=True, dtype='float32')
  c.data.dataset = 'python_code'
  c.data.objective = 'causal_lm'
  c.data.pack = True
  c.data.targets_length = 1024
  c.data.tokenizer_vocab_size = 32_000
  c.data.eval_split = 'test'  # capability: LM loss on the untouched held-out files
  c.num_train_steps = 50_354  # 3.3B tokens / (64 x 1024)
  c.per_device_batch_size = 64
  c.optimizer.update(name='adamw', learning_rate=8e-4, schedule='linear', warmup_steps=504,
                     end_learning_rate_fraction=0.0, b1=0.9, b2=0.999, eps=1e-8,
                     weight_decay=0.0, grad_clip_norm=1.0)
  c.loss.z_loss = 0.0
  c.eval_every_steps = 5000
  c.checkpoint_every_steps = 1000
  c.log_every_steps = 100
  c.num_samples = 0
  c.preference.objective = objective
  c.preference.scorer = 'pep8'
  c.preference.eval_samples = 500
  c.preference.eval_prompts = 100
  c.preference.eval_max_length = 640
  c.preference.eval_temperature = 0.7
  c.preference.eval_top_p = 0.9

  if tiny:
    c.model.update(vocab_size=2176, d_model=64, num_heads=4, head_dim=16, d_ff=256,
                   num_layers=2, max_length=128, dropout_rate=0.0, attention_dropout_rate=0.0)
    c.data.tokenizer_vocab_size = 2000  # + 100 sentinels = 2100 ids <= vocab_size
    c.data.targets_length = 128
    c.num_train_steps = 300
    c.per_device_batch_size = 16
    c.optimizer.update(warmup_steps=30)
    c.log_every_steps = 10
    c.eval_every_steps = 150
    c.checkpoint_every_steps = 150
    c.num_eval_batches = 4
    c.preference.update(eval_samples=25, eval_prompts=10, eval_max_length=128)

  for key, value in SETTINGS[objective].items():
    section, name = key.split('.')
    c[section][name] = value
  return c
