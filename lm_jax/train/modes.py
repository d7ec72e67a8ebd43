"""What `python -m lm_jax.main` does for each `config.mode`: one function per mode."""
import json
import os

import jax
import ml_collections

from lm_jax.evaluation import prompts
from lm_jax.train import loop


def _with_trained_model_and_data(config: ml_collections.ConfigDict, workdir: str):
  """The run's own `model` and `data` sections from `<workdir>/config.json` (so a model trained
  with command-line overrides is rebuilt exactly), everything else from this command line."""
  path = os.path.join(workdir, 'config.json')
  if not os.path.isfile(path):
    return config
  with open(path) as f:
    saved = json.load(f)
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.model = ml_collections.ConfigDict(saved['model'])
    config.data.update(saved['data'])
  return config


def generate_from_checkpoint(config: ml_collections.ConfigDict, workdir: str,
                             prompt_texts: list[str]) -> list[str]:
  """Prints and returns continuations of `prompt_texts` by the latest checkpoint in `workdir`."""
  if not prompt_texts:
    raise ValueError('--config.mode=generate needs at least one --prompt="text".')
  config = _with_trained_model_and_data(config, workdir)
  trainer = loop.Trainer(config, workdir, training=False)
  params, step = trainer.latest_params()
  rng = jax.random.key(config.seed)
  texts = prompts.continue_texts(trainer.model, {'params': params}, trainer.tokenizer,
                                 prompt_texts, config.generate.to_dict(), rng=rng)
  print(f'{config.model.name} from {trainer.checkpointer.directory} at step {step}, '
        f'{config.generate.strategy} decoding:')
  for prompt, text in zip(prompt_texts, texts):
    print(f'\nprompt:       {prompt!r}\ncontinuation: {text!r}')
  return texts


def train(config, workdir: str, prompt_texts: list[str]):
  if prompt_texts:
    raise ValueError('--prompt only applies to --config.mode=generate.')
  return loop.train_and_evaluate(config, workdir)


MODES = {'train': train, 'generate': generate_from_checkpoint}
