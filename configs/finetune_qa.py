"""Fine-tunes a pretrained encoder-decoder for question answering, scored with SQuAD's exact
match and token F1.

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model.

Variants (`--config=configs/finetune_qa.py:<variant>`):
  (none)  T5's recipe on SQuAD v1.1 (TFDS `squad`, prepared beforehand): question and context in.
  reference  offline extractive QA on the Python library reference (`python_reference_qa`):
             question and context in, a sentence of the context out, as SQuAD.
  faq        the offline Python FAQ, closed-book: the question alone in, the answer out.
  docstrings offline extractive QA on Python modules' functions (`docstring_qa_installed`):
             "What does json.dumps do?" answered by its docstring's summary line, in a context
             listing its module's functions; ~78k questions.
  tiny       the library reference QA, fine-tuning a tiny pretrained run (configs/t5_small.py:tiny)
             in under 5 minutes on CPU: --config.init_from=runs/t5_small_tiny
  cpu        the docstring QA with the recipe that learns on CPU (batch 64, AdamW; 3000 steps,
             about 80 minutes for configs/t5_small.py:mini, which learns to find and copy the
             answer between steps 1250 and 1500): --config.init_from=runs/t5_small_mini
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
  elif variant in ('docstrings', 'cpu'):
    c.data.task = 'docstring_qa_installed'
  if variant == 'cpu':
    finetune_presets.cpu_hour(c, num_train_steps=3000)
    # 94% of the answers end within the first 320 tokens of the 2k-piece vocabulary, 95% of
    # them are under 64.
    c.data.inputs_length = 320
    c.data.targets_length = 64
  elif variant == 'tiny':
    finetune_presets.tiny(c, num_train_steps=1000)
    # 96% of the answers end within the first 320 tokens of the 2k-piece tiny vocabulary.
    c.data.inputs_length = 320
    c.data.targets_length = 48
  elif variant not in (None, 'faq', 'reference', 'docstrings'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_qa.py; use reference, '
                     'docstrings, faq, tiny or cpu.')
  return c
