"""Fine-tunes a pretrained model for classification, scored with accuracy and macro F1.

An encoder-decoder reads T5's text-to-text form and writes the class name; an encoder-only model
(`bert_*` variants) gets a classification head on its encoder (model `bert_classifier`).
`--config.finetune.mode=frozen` trains that head alone on the frozen encoder (feature extraction).

Variants (`--config=configs/finetune_classification.py:<variant>`):
  (none)     T5's recipe on GLUE SST-2 (TFDS `glue/sst2`, prepared beforehand).
  wordnet    the offline WordNet glosses -> their 45 lexicographer categories.
  tiny       WordNet, fine-tuning a tiny pretrained T5 (configs/t5_small.py:tiny) in under 5 minutes
             on CPU: --config.init_from=runs/t5_small_tiny
  bert_tiny  WordNet with a classification head on a tiny pretrained BERT
             (configs/bert_base.py:tiny): --config.init_from=runs/bert_base_tiny
"""
from lm_jax import finetune_presets
from lm_jax.config_schema import default_config


def get_config(variant=None):
  c = finetune_presets.t5_recipe(default_config(), task='glue_sst2', inputs_length=128,
                                 targets_length=8, metric='accuracy')
  c.eval.metrics = ('accuracy', 'f1')
  if variant in ('wordnet', 'tiny', 'bert_tiny'):
    c.data.task = 'wordnet_categories'
    c.data.inputs_length = 64    # glosses: 99% are shorter
  if variant in ('tiny', 'bert_tiny'):
    finetune_presets.tiny(c, num_train_steps=1000)
  if variant == 'bert_tiny':
    c.model.name = 'bert_classifier'  # num_classes comes from the task's labels
    c.optimizer.update(name='adamw', learning_rate=1e-3, weight_decay=0.01)
  elif variant not in (None, 'wordnet', 'tiny'):
    raise ValueError(f'Unknown variant {variant!r} of configs/finetune_classification.py; use '
                     'wordnet, tiny or bert_tiny.')
  return c
