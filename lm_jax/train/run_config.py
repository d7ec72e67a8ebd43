"""The config a run actually uses, assembled here alone: the experiment config completed by what
`config.init_from` and `config.data.task` decide (the pretrained model's shape and tokenizer, a
head's class count), or for eval and generate modes by the run directory's own config.
"""
import os

import ml_collections

from lm_jax.data import tasks
from lm_jax.train import finetune
from lm_jax.train.run_dir import RunDir

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


def as_trained(config: ml_collections.ConfigDict, run: RunDir) -> ml_collections.ConfigDict:
  """For reading a trained run (eval, generate): its own `model` and `data` sections and
  tokenizer (so a model trained with command-line overrides, or resolved from init_from, is
  rebuilt exactly), everything else from this command line; `data.data_dir` too when the command
  line gives one, as where datasets live is the machine's business. The pretrained weights are
  not read again, and nothing is frozen: the checkpoint holds the fine-tuned weights; except for
  an adapter run (config.peft), whose checkpoint holds the adapters and which keeps its base: the
  one it recorded, or the command line's init_from when the base has moved (its fingerprint must
  match, lm_jax/train/adapters.py)."""
  config = config.copy_and_resolve_references()
  saved = run.saved_config()
  adapter_run = saved is not None and (saved.get('peft') or {}).get('method', 'none') != 'none'
  with config.unlocked():
    config.init_from = (config.init_from or saved['init_from']) if adapter_run else None
    config.finetune.mode = 'full'
    if adapter_run:
      config.peft.update(saved['peft'])  # keys added since keep their defaults
    else:
      config.peft.method = 'none'
    if saved is not None:
      data_dir = config.data.data_dir
      config.model = ml_collections.ConfigDict(saved['model'])
      config.data.update(saved['data'])
      if data_dir is not None:
        config.data.data_dir = data_dir
      if run.own_tokenizer():
        config.data.tokenizer_path = run.own_tokenizer()
  return config


def for_split(data: ml_collections.ConfigDict, split: str | None) -> ml_collections.ConfigDict:
  """`data` reading `split` as its eval split (None: data.eval_split as it is)."""
  data = data.copy_and_resolve_references()
  if split is not None:
    with data.unlocked():
      data.eval_split = split
  return data


def resolve(config: ml_collections.ConfigDict, run: RunDir, training: bool = True):
  """(config, pretrained or None): a copy of `config` with init_from's model and tokenizer and the
  task's class count filled in; with `training=False`, the config `run` trained with (see
  `as_trained`). A workdir with its own checkpoint resumes from it instead, but still needs the
  same resolved config to rebuild the model."""
  config = (config.copy_and_resolve_references() if training else as_trained(config, run))
  pretrained = None
  with config.unlocked():
    if config.init_from:
      # Absolute, as recorded: an adapter run's eval finds its base from any directory.
      config.init_from = os.path.abspath(os.path.expanduser(config.init_from))
      pretrained = finetune.load_pretrained(config.init_from)
      config.model = _model_config(config, pretrained)
      if not config.data.tokenizer_path:
        if not pretrained.tokenizer_path:
          raise ValueError(
              f'config.init_from={config.init_from!r} has no tokenizer lm_jax can read (a '
              'SentencePiece spiece.model, or a Hugging Face tokenizer.json, vocab.json + '
              'merges.txt or vocab.txt); set --config.data.tokenizer_path to the tokenizer it '
              'was trained with.')
        config.data.tokenizer_path = pretrained.tokenizer_path
      for key in _TOKENIZER_KEYS:
        if pretrained.data_config and key in pretrained.data_config:
          config.data[key] = pretrained.data_config[key]
    if config.data.task:
      task = tasks.get(config.data.task)
      if config.model.get('name') in HEAD_OF and task.labels is not None:
        config.model.num_classes = len(task.labels)
  return config, pretrained
