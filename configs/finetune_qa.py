"""Fine-tunes a pretrained encoder-decoder for question answering, scored with SQuAD's exact
match and token F1.

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model.

Variants (`--config=configs/finetune_qa.py:<variant>`):
  (none)  T5's recipe on SQuAD v1.1 (TFDS `squad`, prepared beforehand): question and context in.
  reference  offline extractive QA on the Python library reference (`python_reference_qa`):
             question and context in, a sentence of the context out, as SQuAD.
  faq        the offline Python FAQ, closed-book: the question alone in, the answer out.
  tiny       the library reference QA, fine-tuning a tiny pretrained run (configs/t5_small.py:tiny)
             in under 5 minutes on CPU: --config.init_from=runs/t5_small_tiny
"""
from lm_jax import finetune_presets
from lm_jax.config_schema import default_config


def get_config(variant=None):
  c = finetune_presets.t5_recipe(default_config(), task='squad', inputs_length=512,
                                 targets_length=64, metric='squad_f1')
  c.eval.metrics = ('squad',)
  if variant == 'faq':
    c.data.task = 'python_faq'
    c.data.inputs_length = 64     # questions are one sentence
    c.data.targets_length = 128   # answers are paragraphs
  elif variant in ('reference', 'tiny'):
    c.data.task = 'python_reference_qa'
  if variant == 'tiny':
    finetune_presets.tiny(c, num_train_steps=1000)
    # 96% of the answers end within the first 320 tokens of the 2k-piece tiny vocabulary.
    c.data.inputs_length = 320
    c.data.targets_length = 48
  elif variant not in (None, 'faq', 'reference'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_qa.py; use reference, faq '
                     'or tiny.')
  return c
