"""Pretrain the tiny T5, the twice as wide mini T5 and the tiny BERT on the embedded corpus,
fine-tune them on each offline task, and score each on its test split beside the task's trivial
baseline, on all of it and on its clean subset (the examples that share no 13-gram with the
pretraining corpus: docs/finetuning_results.md).

  python -m lm_jax.sweep --sweep=configs/sweeps/finetune_tasks.py

expect: about 3 hours on 2 CPU cores, most of it the docstring QA (~90 min), the code summaries
(~45 min) and translation (~40 min); re-running the command resumes where it stopped. The
tables: runs/finetune_tasks/results.md, copied into docs/results/finetune_tasks/.

Each fine-tuning point is `configs/finetune_<task>.py:<variant>` started from a pretraining
point (`init_from`), exactly as `--config.init_from=<that run>` on the command line. Translation
starts from the docstring-QA run: that intermediate task taught the mini T5 to copy, which
translating UI messages needs and does not teach it alone. After training, the checkpoint
chosen on validation is scored in eval mode on the test split (the first 2,000 examples where
there are more; all 2,357 translation pairs).
"""
BASE = 'configs/t5_small.py:tiny'
SEEDS = (0,)
METRIC, GOAL = 'eval/loss', 'min'
COLUMNS = ('eval/loss',)
_PRETRAINING_TEXT = 'stdlib_docs:text'  # what all three models pretrain on


def _pretrain(steps: int) -> dict:
  """Ten times the tiny configs' own steps; one evaluation and checkpoint at the end."""
  return {'num_train_steps': steps, 'eval_every_steps': steps, 'checkpoint_every_steps': steps,
          'num_samples': 0}


def _test(num_examples: int | None = 2000) -> dict:
  return {'eval.split': 'test', 'eval.checkpoint': 'best', 'eval.num_examples': num_examples,
          'eval.baseline': True, 'eval.decontaminate_against': _PRETRAINING_TEXT}


def points(add):
  add('pretrain_t5', _pretrain(2000), config='configs/t5_small.py:tiny')
  add('pretrain_t5_mini', _pretrain(2000), config='configs/t5_small.py:mini')
  add('pretrain_bert', _pretrain(1000), config='configs/bert_base.py:tiny')
  finetune = {'num_samples': 2}
  add('classification_t5', {**finetune, 'init_from': '@pretrain_t5'},
      config='configs/finetune_classification.py:tiny', evaluate=_test())
  add('classification_bert', {**finetune, 'init_from': '@pretrain_bert'},
      config='configs/finetune_classification.py:bert_tiny', evaluate=_test())
  add('summarization', {**finetune, 'init_from': '@pretrain_t5_mini'},
      config='configs/finetune_summarization.py:cpu', evaluate=_test())
  add('qa', {**finetune, 'init_from': '@pretrain_t5_mini'},
      config='configs/finetune_qa.py:cpu', evaluate=_test())
  add('translation', {**finetune, 'init_from': '@qa'},
      config='configs/finetune_translation.py:cpu', evaluate=_test(None))
