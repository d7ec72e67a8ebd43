"""The config a run actually trains: the experiment config completed by what `config.init_from`
and `config.data.task` decide (the pretrained model's shape and tokenizer, a head's class count).
"""
import ml_collections

from lm_jax.data import tasks
from lm_jax.train import finetune

# A fine-tuning model name that puts a new head on a pretrained model of another name.
HEAD_OF = {'bert_classifier': 'bert'}
# Data keys that must match the pretraining run for the token ids to mean the same thing.
_TOKENIZER_KEYS = ('num_extra_ids',)


def _model_config(config, pretrained) -> ml_collections.ConfigDict:
  """The pretrained model's config with the fine-tuning config's `model` keys on top (dropout,
  a head's name); a name that is neither the pretrained one nor a head of it is an error."""
  name, pretrained_name = config.model.get('name'), pretrained.model_config.get('name')
  if name not in (pretrained_name, None) and HEAD_OF.get(name) != pretrained_name:
    raise ValueError(
        f'config.init_from={config.init_from!r} holds a {pretrained_name!r} model, but '
        f'config.model.name is {name!r}. Set --config.model.name={pretrained_name} (or a head '
        f'for it: {sorted(h for h, b in HEAD_OF.items() if b == pretrained_name)}).')
  merged = dict(pretrained.model_config)
  merged.update(config.model.to_dict())
  return ml_collections.ConfigDict(merged)


def resolve(config: ml_collections.ConfigDict):
  """(config, pretrained or None): a copy of `config` with init_from's model and tokenizer and the
  task's class count filled in. A workdir with its own checkpoint resumes from it instead, but
  still needs the same resolved config to rebuild the model."""
  config = config.copy_and_resolve_references()
  pretrained = None
  with config.unlocked():
    if config.init_from:
      pretrained = finetune.load_pretrained(config.init_from)
      config.model = _model_config(config, pretrained)
      if not config.data.tokenizer_path:
        if not pretrained.tokenizer_path:
          raise ValueError(
              f'config.init_from={config.init_from!r} has no SentencePiece tokenizer lm_jax can '
              'read; set --config.data.tokenizer_path to the .model file it was trained with.')
        config.data.tokenizer_path = pretrained.tokenizer_path
      for key in _TOKENIZER_KEYS:
        if pretrained.data_config and key in pretrained.data_config:
          config.data[key] = pretrained.data_config[key]
    if config.data.task:
      task = tasks.get(config.data.task)
      if config.model.get('name') in HEAD_OF and task.labels is not None:
        config.model.num_classes = len(task.labels)
  return config, pretrained
