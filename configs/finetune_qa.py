"""Fine-tunes a pretrained encoder-decoder for question answering, scored with SQuAD's exact
match and token F1.

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model.

Variants (`--config=configs/finetune_qa.py:<variant>`):
  (none)  T5's recipe on SQuAD v1.1 (TFDS `squad`, prepared beforehand): question and context in.
  faq     the offline Python FAQ, closed-book: the question alone in, the answer out.
  tiny    the Python FAQ, fine-tuning a tiny pretrained run (configs/t5_small.py:tiny) in under
          5 minutes on CPU: --config.init_from=runs/t5_small_tiny
"""
from lm_jax import finetune_presets
from lm_jax.config_schema import default_config


def get_config(variant=None):
  c = finetune_presets.t5_recipe(default_config(), task='squad', inputs_length=512,
                                 targets_length=64, metric='squad_f1')
  c.eval.metrics = ('squad',)
  if variant in ('faq', 'tiny'):
    c.data.task = 'python_faq'
    c.data.inputs_length = 64     # questions are one sentence
    c.data.targets_length = 128   # answers are paragraphs
  if variant == 'tiny':
    finetune_presets.tiny(c, num_train_steps=1000)
  elif variant not in (None, 'faq'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_qa.py; use faq or tiny.')
  return c
