r"""Fine-tunes a pretrained model for classification, scored with accuracy and macro F1.

An encoder-decoder reads T5's text-to-text form and writes the class name; an encoder-only model
(`bert_*` variants) gets a classification head on its encoder (model `bert_classifier`).
`--config.finetune.mode=frozen` trains that head alone on the frozen encoder (feature extraction).

`--config.init_from` names the pretrained weights: an lm_jax workdir or a local Hugging Face
directory. A run writes to runs/finetune_classification_<variant> (runs/finetune_classification
without one) and scores validation as it trains; test scores are eval mode's on the best
checkpoint: the same command with `--config.mode=eval --config.eval.checkpoint=best
--config.eval.split=test`, plus `--config.eval.num_examples=2000` for the `:tiny` variants, which
decode 128 examples an evaluation. Times are wall clock on a shared 2-core CPU, evaluations
included.

(none)     T5's recipe on GLUE SST-2 (TFDS `glue/sst2`, prepared beforehand).
             python -m lm_jax.main --config=configs/finetune_classification.py \
                 --config.init_from=<a pretrained T5 workdir or HF directory>
           expect: not measured here; the paper's T5-small reaches a GLUE average of 77.4, SST-2
           among its tasks (Raffel et al. 2020, Table 14).
wordnet    the offline WordNet glosses -> their 45 lexicographer categories, T5's recipe.
             python -m lm_jax.main --config=configs/finetune_classification.py:wordnet \
                 --config.init_from=<a pretrained T5 workdir or HF directory>
           expect: not measured here.
tiny       WordNet, fine-tuning a tiny pretrained T5 (configs/t5_small.py:tiny), 1000 steps.
             python -m lm_jax.main --config=configs/finetune_classification.py:tiny \
                 --config.init_from=runs/t5_small_tiny
           expect: from the 200-step tiny T5, about 50 s and validation accuracy / macro F1
           30.5 / 11.8 at step 1000 (128 examples); from one pretrained 2,000 steps
           (`--config.num_train_steps=2000`), 33 s and test 40.1 / 15.5 against the majority
           class's 12.5 / 0.5 (docs/finetuning_results.md, 2026-12).
bert_tiny  WordNet with a classification head on a tiny pretrained BERT (configs/bert_base.py:tiny).
             python -m lm_jax.main --config=configs/finetune_classification.py:bert_tiny \
                 --config.init_from=runs/bert_base_tiny
           expect: from the tiny BERT pretrained 1,000 steps (`--config.num_train_steps=1000`),
           32 s and test accuracy / macro F1 27.9 / 3.8 against the majority class's 12.5 / 0.5
           (docs/finetuning_results.md, 2026-12).
"""
from lm_jax.config import presets
from lm_jax.config.schema import default_config


def get_config(variant=None):
  c = presets.t5_recipe(default_config(), task='glue_sst2', inputs_length=128,
                                 targets_length=8, metric='accuracy')
  c.eval.metrics = ('accuracy', 'f1')
  if variant in ('wordnet', 'tiny', 'bert_tiny'):
    c.data.task = 'wordnet_categories'
    c.data.inputs_length = 64    # glosses: 99% are shorter
  if variant in ('tiny', 'bert_tiny'):
    presets.tiny(c, num_train_steps=1000)
  if variant == 'bert_tiny':
    c.model.name = 'bert_classifier'  # num_classes comes from the task's labels
    c.optimizer.update(name='adamw', learning_rate=1e-3, weight_decay=0.01)
  elif variant not in (None, 'wordnet', 'tiny'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_classification.py; use '
                     'wordnet, tiny or bert_tiny.')
  return c
