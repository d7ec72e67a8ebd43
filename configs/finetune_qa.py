r"""Fine-tunes a pretrained encoder-decoder for question answering, scored with SQuAD's exact
match and token F1.

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face T5
directory with its spiece.model. A run writes to runs/finetune_qa_<variant> (runs/finetune_qa
without one) and scores validation as it trains; test scores are eval mode's on the best
checkpoint: the same command with `--config.mode=eval --config.eval.checkpoint=best
--config.eval.split=test`, plus `--config.eval.num_examples=2000` for `:tiny` and `:cpu`, which
decode 128 examples an evaluation. Times are wall clock on a shared 2-core CPU, evaluations
included.

(none)      T5's recipe on SQuAD v1.1 (TFDS `squad`, prepared beforehand): question and context in.
              python -m lm_jax.main --config=configs/finetune_qa.py \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here; the paper's T5-small reaches EM / F1 79.10 / 87.24
            (Raffel et al. 2020, Table 14).
reference   offline extractive QA on the Python library reference (`python_reference_qa`):
            question and context in, a sentence of the context out, as SQuAD. T5's recipe:
              python -m lm_jax.main --config=configs/finetune_qa.py:reference \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
faq         the offline Python FAQ, closed-book: the question alone in, the answer out.
              python -m lm_jax.main --config=configs/finetune_qa.py:faq \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
docstrings  offline extractive QA on Python modules' functions (`docstring_qa_installed`):
            "What does json.dumps do?" answered by its docstring's summary line, in a context
            listing its module's functions; ~78k questions. T5's recipe:
              python -m lm_jax.main --config=configs/finetune_qa.py:docstrings \
                  --config.init_from=<a pretrained T5 workdir or HF directory>
            expect: not measured here.
tiny        the library reference QA, fine-tuning a tiny pretrained T5 (configs/t5_small.py:tiny).
              python -m lm_jax.main --config=configs/finetune_qa.py:tiny \
                  --config.init_from=runs/t5_small_tiny
            expect: from the tiny T5 pretrained 2,000 steps, about 7 minutes (404 s, 2026-11)
            and test EM / F1 0.0 / 11.2, below the context's first sentence's 25.7 / 46.9: 4.9k
            questions are too few to learn copying from (docs/finetuning_results.md, 2026-12).
cpu         the docstring QA with the recipe that learns on CPU (batch 64, AdamW; 3000 steps)
            from the mini T5 (configs/t5_small.py:mini pretrained 2,000 steps).
              python -m lm_jax.main --config=configs/finetune_qa.py:cpu \
                  --config.init_from=runs/t5_small_mini
            expect: about 90 minutes (tests shared the CPU at first); it learns to find and copy
            the answer between steps 1250 and 1500, and scores test EM / F1 52.0 / 76.0 (2,000
            examples) against the context's first entry's 31.3 / 45.6
            (docs/finetuning_results.md, 2026-12).
"""
from lm_jax.config import presets
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = presets.t5_recipe(default_config(), task='squad', inputs_length=512,
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
    presets.cpu_hour(c, num_train_steps=3000)
    # 94% of the answers end within the first 320 tokens of the 2k-piece vocabulary, 95% of
    # them are under 64.
    c.data.inputs_length = 320
    c.data.targets_length = 64
  elif variant == 'tiny':
    presets.tiny(c, num_train_steps=1000)
    # 96% of the answers end within the first 320 tokens of the 2k-piece tiny vocabulary.
    c.data.inputs_length = 320
    c.data.targets_length = 48
  elif variant not in (None, 'faq', 'reference', 'docstrings'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_qa.py; use reference, '
                     'docstrings, faq, tiny or cpu.')
  return c
