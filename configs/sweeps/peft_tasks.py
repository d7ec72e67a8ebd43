"""Parameter-efficient fine-tuning against full fine-tuning from one pretrained checkpoint per
family (docs/peft.md): the tiny T5 on WordNet classification and code summarization, fully,
with LoRA r = 1, 4, 16 on the query and value projections (and r = 8 at 10x the learning rate)
and r = 8 on every linear layer, with prefix tuning (20 key/value vectors per attention layer)
and with prompt tuning (20 virtual tokens, at Lester et al.'s learning rate 0.3 and at 0.03, one
example a row); the tiny BERT classifier fully, frozen (its new head alone) and with LoRA
r = 8. Each fine-tune is scored on its test split with its best checkpoint, beside the task's
trivial baseline; the tables add what each trains (trainable %) and keeps (checkpoint MB, the
latest step).

  python -m lm_jax.sweep --sweep=configs/sweeps/peft_tasks.py

expect: 2.6 hours on 2 CPU cores (2026-12-07; table and plots in docs/results/peft_tasks/):
full fine-tuning best on classification (38.5% against 31.9% for LoRA on every linear layer),
prefix and prompt tuning at or below the majority class at this 304k-parameter scale; re-running
the command resumes where it stopped, and a finished sweep only rewrites its tables.
"""
BASE = 'configs/t5_small.py:tiny'
SEEDS = (0,)
METRIC, GOAL = 'eval/loss', 'min'
COLUMNS = ('eval/loss', 'trainable %', 'checkpoint MB')


def _pretrain(steps: int) -> dict:
  return {'num_train_steps': steps, 'eval_every_steps': steps, 'checkpoint_every_steps': steps,
          'num_samples': 0}


def _test() -> dict:
  return {'eval.split': 'test', 'eval.checkpoint': 'best', 'eval.num_examples': 2000,
          'eval.baseline': True}


def _lora(rank: int, targets=('query', 'value')) -> dict:
  return {'peft.method': 'lora', 'peft.rank': rank, 'peft.targets': targets}


_METHODS = {'full': {}, 'lora_r1': _lora(1), 'lora_r4': _lora(4), 'lora_r16': _lora(16),
            'lora_all_r8': _lora(8, ('all-linear',)),
            # LoRA is usually run at a higher learning rate than full fine-tuning: 10x here.
            'lora_r8_lr10x': {**_lora(8), 'optimizer.learning_rate': 0.03},
            'prefix': {'peft.method': 'prefix', 'peft.num_virtual_tokens': 20},
            'prompt': {'peft.method': 'prompt', 'peft.num_virtual_tokens': 20,
                       'optimizer.learning_rate': 0.3, 'data.pack': False},
            # At 0.3 the tiny model's classification prompt was best after 250 steps, then worse.
            'prompt_lr0.03': {'peft.method': 'prompt', 'peft.num_virtual_tokens': 20,
                              'optimizer.learning_rate': 0.03, 'data.pack': False}}


def points(add):
  add('pretrain_t5', _pretrain(2000), config='configs/t5_small.py:tiny')
  add('pretrain_bert', _pretrain(1000), config='configs/bert_base.py:tiny')
  for task in ('classification', 'summarization'):
    for method, overrides in _METHODS.items():
      add(f'{task}_{method}', {'num_samples': 0, 'init_from': '@pretrain_t5', **overrides},
          config=f'configs/finetune_{task}.py:tiny', evaluate=_test())
  for method, overrides in (('full', {}), ('frozen', {'finetune.mode': 'frozen'}),
                            ('lora_r8', _lora(8))):
    add(f'classification_bert_{method}', {'num_samples': 0, 'init_from': '@pretrain_bert',
                                          **overrides},
        config='configs/finetune_classification.py:bert_tiny', evaluate=_test())
