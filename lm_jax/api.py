"""The Python entry points for notebooks and scripts: the same behaviour as
`python -m lm_jax.main`, without absl flags.

  config = lm_jax.load_config('configs/t5_small.py:tiny', {'num_train_steps': 500})
  lm_jax.train_and_evaluate(config, 'runs/my_run')
  run = lm_jax.load_run('runs/my_run')
  run.metrics()                  # the rows of metrics.jsonl
  run.generate(['The module'])   # continuations by the latest checkpoint
  run.evaluate(split='test')     # eval mode: scores, and eval_test.json in the run
"""
import dataclasses

import ml_collections

from lm_jax.config import schema


def load_config(spec: str, overrides: dict | None = None) -> ml_collections.ConfigDict:
  """`'configs/t5_small.py:tiny'` with dotted `overrides` (`{'optimizer.learning_rate': 1e-3}`,
  as `--config.optimizer.learning_rate=1e-3`), validated as the command line validates it."""
  config = schema.load_config(spec)
  schema.override(config, overrides or {})
  schema.validate_config(config)
  return config


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains (or resumes) in `workdir` as `python -m lm_jax.main --config=... --workdir=...`
  does; returns the last metrics."""
  from lm_jax.train import loop
  schema.validate_config(config)
  return loop.train_and_evaluate(config, workdir)


@dataclasses.dataclass
class Run:
  """A run directory opened for reading: its config, metrics, checkpoints and tokenizer."""
  workdir: str
  config: ml_collections.ConfigDict  # what the run trained with (its config.json)

  def metrics(self) -> list[dict]:
    from lm_jax.train import metrics_writer
    return metrics_writer.read_metrics(self.workdir)

  def latest_step(self) -> int | None:
    from lm_jax.train.run_dir import RunDir
    return RunDir(self.workdir).latest_step()

  def params(self, step: int | None = None) -> dict:
    """The parameters of checkpoint `step` (default: the latest), as numpy arrays."""
    from lm_jax.train.run_dir import RunDir
    params, _ = RunDir(self.workdir).read_params(step)
    return params

  def _config(self, overrides: dict) -> ml_collections.ConfigDict:
    return schema.override(self.config.copy_and_resolve_references(), overrides)

  def generate(self, prompts: list[str], **generate_options) -> list[str]:
    """Continuations of `prompts` by the latest checkpoint, as generate mode; options are
    config.generate keys (strategy='beam', num_beams=4, max_decode_length=64, ...)."""
    from lm_jax import modes
    config = self._config({f'generate.{k}': v for k, v in generate_options.items()})
    return modes.generate_from_checkpoint(config, self.workdir, list(prompts))

  def evaluate(self, split: str | None = None, checkpoint: str = 'latest',
               num_examples: int | None = None) -> dict:
    """Eval mode: scores `checkpoint` ('latest' or 'best') on `split` (default the run's eval
    split), writes eval_<split>.json and predictions_<split>.jsonl into the run, returns them."""
    from lm_jax import modes
    overrides = {'eval.split': split, 'eval.checkpoint': checkpoint}
    if num_examples is not None:
      overrides['eval.num_examples'] = num_examples
    return modes.evaluate_checkpoint(self._config(overrides), self.workdir, [])


def load_run(workdir: str) -> Run:
  """Opens the run in `workdir` (refusing a newer format, as every command does)."""
  from lm_jax.train.run_dir import RunDir
  run = RunDir(workdir)
  saved = run.saved_config()
  if saved is None:
    raise FileNotFoundError(f'{workdir} holds no lm_jax run (no {run.config_file}); train one '
                            'with lm_jax.train_and_evaluate(config, workdir) first.')
  config = schema.default_config()
  with config.unlocked():
    _update(config, saved)
  return Run(workdir, config)


def _update(config: ml_collections.ConfigDict, saved: dict) -> None:
  """`saved` (a config.json) onto `config`, section by section: model sections differ by
  family, so they are taken whole."""
  for key, value in saved.items():
    if isinstance(value, dict) and key != 'model' and key in config:
      _update(config[key], value)
    else:
      config[key] = ml_collections.ConfigDict(value) if isinstance(value, dict) else value
