r"""Fine-tunes a pretrained encoder-decoder for summarization, scored with ROUGE-1/2/L
(rouge-score).

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model. A run writes to runs/finetune_summarization_<variant>
(runs/finetune_summarization without one) and scores validation as it trains; test scores are eval
mode's on the best checkpoint: the same command with `--config.mode=eval
--config.eval.checkpoint=best --config.eval.split=test`, plus `--config.eval.num_examples=2000` for
`:tiny` and `:cpu`, which decode 128 examples an evaluation. Times are wall clock on a shared
2-core CPU, evaluations included.

(none)      T5's recipe on CNN/Daily Mail (TFDS `cnn_dailymail`, prepared beforehand).
              python -m lm_jax.main --config=configs/finetune_summarization.py \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here; the paper's T5-small reaches ROUGE-2 19.56 (Raffel et al.
            2020, Table 14).
xsum        the same on XSum (TFDS `xsum`).
              python -m lm_jax.main --config=configs/finetune_summarization.py:xsum \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
code        offline code summarization: a function's code -> its docstring's summary line, from
            the standard library and every installed package (`summarize_code_installed`).
              python -m lm_jax.main --config=configs/finetune_summarization.py:code \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
docstrings  the offline standard-library docstrings: the rest of a docstring -> its summary line.
              python -m lm_jax.main --config=configs/finetune_summarization.py:docstrings \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
tiny        the code summaries, fine-tuning a tiny pretrained T5 (configs/t5_small.py:tiny).
              python -m lm_jax.main --config=configs/finetune_summarization.py:tiny \
                  --config.init_from=runs/t5_small_tiny
            expect: from the tiny T5 pretrained 2,000 steps, about 3½ minutes (206 s, 2026-11)
            and test ROUGE-1 / 2 / L 12.3 / 1.7 / 12.1 (2,000 examples), tying copying the input
            (14.5 / 2.7 / 12.1) on ROUGE-L only (docs/finetuning_results.md, 2026-12).
cpu         the code summaries with the recipe that learns on CPU (batch 64, AdamW; 3000 steps)
            from the mini T5 (configs/t5_small.py:mini pretrained 2,000 steps).
              python -m lm_jax.main --config=configs/finetune_summarization.py:cpu \
                  --config.init_from=runs/t5_small_mini
            expect: about 45 minutes with another run sharing the CPU; test ROUGE-1 / 2 / L
            17.9 / 4.3 / 17.0 (2,000 examples) against copying the input's 14.5 / 2.7 / 12.1
            (docs/finetuning_results.md, 2026-12).
"""
from lm_jax.config import presets
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = presets.t5_recipe(default_config(), task='cnn_dailymail', inputs_length=512,
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
    presets.tiny(c, num_train_steps=1500)
  elif variant == 'cpu':
    presets.cpu_hour(c, num_train_steps=3000)
  elif variant not in (None, 'xsum', 'docstrings', 'code'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_summarization.py; use '
                     'xsum, code, docstrings, tiny or cpu.')
  if variant in ('tiny', 'cpu'):
    c.data.inputs_length = 128
    c.data.targets_length = 48
  return c
