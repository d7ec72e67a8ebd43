"""Fine-tunes a pretrained encoder-decoder for summarization, scored with ROUGE-1/2/L
(rouge-score).

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model.

Variants (`--config=configs/finetune_summarization.py:<variant>`):
  (none)      T5's recipe on CNN/Daily Mail (TFDS `cnn_dailymail`, prepared beforehand).
  xsum        the same on XSum (TFDS `xsum`).
  code        offline code summarization: a function's code -> its docstring's summary line, from the
              standard library and every installed package (`summarize_code_installed`).
  docstrings  the offline standard-library docstrings: the rest of a docstring -> its summary line.
  tiny        the code summaries, fine-tuning a tiny pretrained run (configs/t5_small.py:tiny) in
              under 5 minutes on CPU: --config.init_from=runs/t5_small_tiny
  cpu         the code summaries with the recipe that learns on CPU (batch 64, AdamW; 3000 steps,
              about half an hour for configs/t5_small.py:mini): --config.init_from=runs/t5_small_mini
"""
from lm_jax import finetune_presets
from lm_jax.config_schema import default_config


def get_config(variant=None):
  c = finetune_presets.t5_recipe(default_config(), task='cnn_dailymail', inputs_length=512,
                                 targets_length=128, metric='rougeL')
  c.eval.metrics = ('rouge',)
  if variant == 'xsum':
    c.data.task = 'xsum'
  elif variant == 'docstrings':
    c.data.task = 'summarize_docstrings'
    c.data.targets_length = 64  # summaries are 3-40 words
  elif variant in ('code', 'tiny', 'cpu'):
    c.data.task = 'summarize_code_installed'
    c.data.targets_length = 64
  if variant == 'tiny':
    finetune_presets.tiny(c, num_train_steps=1500)
  elif variant == 'cpu':
    finetune_presets.cpu_hour(c, num_train_steps=3000)
  elif variant not in (None, 'xsum', 'docstrings', 'code'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_summarization.py; use '
                     'xsum, code, docstrings, tiny or cpu.')
  if variant in ('tiny', 'cpu'):
    c.data.inputs_length = 128
    c.data.targets_length = 48
  return c
