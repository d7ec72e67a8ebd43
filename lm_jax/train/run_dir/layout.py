"""`RunDir`: a run directory (`--workdir`), the one owner of its layout, its format version, the
config and tokenizer it trained with, and the checkpoints in it.

  lm_jax_run.json           {"format_version": N}: how to read everything below
  config.json               the resolved config the run trained with (lm_jax/train/run_config.py)
  tokenizer.model           a copy of the SentencePiece model its token ids belong to, or
  hf_tokenizer/             a copy of the Hugging Face tokenizer files they belong to (a run of an
                            imported GPT-2 or BERT); format 1 as well, as older code could read
                            no Hugging Face tokenizer at all
  adapter_base.json         (format 2 on) the frozen base of an adapter run (config.peft): its
                            init_from and a fingerprint of its parameters
  parameters.json           how many parameters the model has and how many of them train
  checkpoints/<step>/       train state, data position, loop state, manifest (train_state.py)
  checkpoints_best/<step>/  the best evaluation's params (best.py)
  merged/                   an adapter run's weights folded into its base (--config.mode=merge):
                            a run directory of format 1 whose checkpoint holds params alone
  metrics.jsonl, samples.jsonl, data_fingerprint.json, eval_<split>.json, predictions_<split>.jsonl
                            written by the loop and the modes (only metrics.jsonl is read back)

Format versions. A change that older code could not read, or that would make this code misread
an older run (adapter-only checkpoints, scanned layer stacks, sharded parameters), bumps
FORMAT_VERSION and teaches this package to read every older version, so users' runs keep
working; tests/train/run_dir opens a committed run directory of each version.
  0  written before lm_jax_run.json existed: as 1, without the tokenizer copy (its tokenizer is
     wherever its config.data says).
  1  the layout above, without adapter_base.json.
  2  a parameter-efficient run: its checkpoints hold the trainable half alone (the adapters and
     any new head, lm_jax/train/adapters.py) and adapter_base.json names the frozen base. Runs
     that train every parameter were still written as format 1.
  3  every run: as 1 or 2, but checkpoints leave out Adafactor's constant placeholder arrays
     (optimizer_placeholders.py), which older code would restore as missing. An adapter run is
     one whose config.json has a peft.method other than 'none'.
"""
import json
import os

import dataclasses

import jax
import ml_collections

from lm_jax import atomic_files, models
from lm_jax.config import schema
from lm_jax.data import pipeline
from lm_jax.data import tokenizer as tokenizer_lib
from lm_jax.train.run_dir import params as params_lib
from lm_jax.train.run_dir import tokenizer_copy
from lm_jax.train.run_dir.best import BestCheckpoint
from lm_jax.train.run_dir.integrity import CheckpointError
from lm_jax.train.run_dir.train_state import Checkpointer

FORMAT_VERSION = 3
FORMAT_FILE = 'lm_jax_run.json'
CONFIG_FILE = 'config.json'
TOKENIZER_FILE = 'tokenizer.model'
HF_TOKENIZER_DIR = 'hf_tokenizer'
ADAPTER_BASE_FILE = 'adapter_base.json'
PARAMETERS_FILE = 'parameters.json'

# Config sections that change the shape or meaning of saved arrays; resuming with other values
# would either fail deep inside orbax or, worse, silently train a different experiment.
_RESUME_CRITICAL = ('model', 'optimizer.name', 'data.objective', 'data.task', 'finetune.mode',
                    'peft')


class RunFormatError(CheckpointError):
  """The run directory was written in a format this code cannot read."""


def _lookup(config_dict, dotted):
  value = config_dict
  if dotted == 'model':
    return _model_fields(config_dict.get('model'))
  for part in dotted.split('.'):
    value = value.get(part) if isinstance(value, dict) else None
  return value


def _with_defaults(value, default):
  """A recorded config value with the keys it lacks (added to the schema since) as defaults."""
  if not (isinstance(value, dict) and isinstance(default, dict)):
    return value
  return {**default, **{k: _with_defaults(v, default.get(k)) for k, v in value.items()}}


# Model fields that change how a step computes, not its arrays or results: a run may resume
# under another value (models/remat.py).
_HOW_IT_COMPUTES = ('remat_policy',)


def _model_fields(model: dict | None):
  """Every field of the model's config dataclass, defaults included: a config that names a
  default explicitly (as configs/ gained `attention_impl`) builds the same model as one that
  leaves it out. The dict as it is when it builds no model."""
  if not isinstance(model, dict):
    return model
  try:
    fields = dataclasses.asdict(models.build_model(ml_collections.ConfigDict(model)).config)
  except Exception:  # an unknown name or key: compare what was written
    return model
  return {'name': model.get('name'),
          **{k: v for k, v in fields.items() if k not in _HOW_IT_COMPUTES}}


class RunDir:
  """A run directory, new or existing. Opening one written in a newer format than
  FORMAT_VERSION raises RunFormatError before anything else reads it."""

  def __init__(self, path: str):
    self.path = os.path.abspath(os.path.expanduser(path))
    self.format_file = os.path.join(self.path, FORMAT_FILE)
    self.config_file = os.path.join(self.path, CONFIG_FILE)
    self.tokenizer_file = os.path.join(self.path, TOKENIZER_FILE)
    self.hf_tokenizer_dir = os.path.join(self.path, HF_TOKENIZER_DIR)
    self.adapter_base_file = os.path.join(self.path, ADAPTER_BASE_FILE)
    self.parameters_file = os.path.join(self.path, PARAMETERS_FILE)
    self.checkpoints_dir = os.path.join(self.path, 'checkpoints')
    self.best_dir = os.path.join(self.path, 'checkpoints_best')
    self.merged_dir = os.path.join(self.path, 'merged')  # --config.mode=merge writes it
    self.format_version = self._read_format_version()

  @staticmethod
  def holds_run(path: str) -> bool:
    """Whether `path` looks like an lm_jax run (its config.json has a `model` section and
    checkpoints/ is beside it) rather than, say, a Hugging Face checkpoint directory."""
    path = os.path.expanduser(path)
    try:
      with open(os.path.join(path, CONFIG_FILE)) as f:
        saved = json.load(f)
    except (OSError, ValueError):
      return False
    return (isinstance(saved, dict) and isinstance(saved.get('model'), dict)
            and os.path.isdir(os.path.join(path, 'checkpoints')))

  def _read_format_version(self) -> int | None:
    """The directory's format version; None for a directory that holds no run yet."""
    if not os.path.exists(self.format_file):
      return 0 if os.path.exists(self.config_file) else None
    try:
      with open(self.format_file) as f:
        version = json.load(f)['format_version']
      if not isinstance(version, int):
        raise TypeError(f'format_version is {version!r}, not an integer')
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise RunFormatError(
          f'{self.format_file} is unreadable ({type(e).__name__}: {e}), so it is unknown how '
          f'to read the run in {self.path}. Restore the file, or use another --workdir.') from e
    if version > FORMAT_VERSION:
      raise RunFormatError(
          f'{self.path} is a run directory of format {version}, written by a newer lm_jax; this '
          f'one reads formats up to {FORMAT_VERSION}. Update lm_jax (git pull, then pip install '
          '-r requirements.txt), or use another --workdir.')
    return version

  # The config and tokenizer the run trained with.

  def saved_config(self) -> dict | None:
    """config.json as a dict, or None before the run has written one."""
    if not os.path.isfile(self.config_file):
      return None
    with open(self.config_file) as f:
      return json.load(f)

  def own_tokenizer(self) -> str | None:
    """The run's copy of its tokenizer (the SentencePiece model, or the Hugging Face tokenizer
    folder); None for a format-0 run, or before training."""
    if os.path.isfile(self.tokenizer_file):
      return self.tokenizer_file
    return self.hf_tokenizer_dir if tokenizer_copy.is_hf(self.hf_tokenizer_dir) else None

  def tokenizer_path(self) -> str | None:
    """The tokenizer the run's token ids belong to: its own copy, else (format 0) its
    data.tokenizer_path or the tokenizer it trained and cached in its data dir (that file may be
    gone, with the data dir)."""
    own = self.own_tokenizer()
    if own:
      return own
    data = (self.saved_config() or {}).get('data')
    if not data:
      return None
    if data.get('tokenizer_path'):
      return data['tokenizer_path']
    data = ml_collections.ConfigDict(data)
    return tokenizer_lib.cached_path(data, pipeline.tokenizer_cache_name(data))

  def check_compatible(self, config: ml_collections.ConfigDict, checkpointer: Checkpointer,
                       training: bool, tokenizer_path: str | None = None) -> None:
    """Refuses a config that cannot use the checkpoints `checkpointer` holds. Training resumes
    only with the same `_RESUME_CRITICAL` sections and tokenizer; reading the parameters (eval,
    generate) needs only the same model.

    The open checkpointer says whether there are checkpoints: every host of a multi-host run saw
    the same steps when it opened, and opening another orbax manager here would add a barrier
    that only the hosts that reach it would join."""
    saved = self.saved_config()
    if saved is None or checkpointer.latest_step() is None:
      return
    current = json.loads(config.to_json_best_effort())
    defaults = json.loads(schema.default_config().to_json_best_effort())
    for key in _RESUME_CRITICAL if training else ('model',):
      # A section or key added to the schema after the run was recorded (`peft`, then
      # `peft.num_virtual_tokens`) had its default there.
      before, now = _lookup(saved, key), _lookup(current, key)
      if key != 'model':  # whose fields' defaults are the model's own (_model_fields)
        default = _lookup(defaults, key)
        before = default if before is None else _with_defaults(before, default)
        now = _with_defaults(now, default)
      if before != now:
        if isinstance(before, dict) and isinstance(now, dict):  # name the fields that differ
          fields = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
          before = {k: before.get(k) for k in fields}
          now = {k: now.get(k) for k in fields}
        raise CheckpointError(
            f'{self.checkpoints_dir} holds checkpoints of a run with config {key}={before!r}, '
            f'but this run has {key}={now!r}. Use another --workdir, or restore the original '
            'config to resume.')
    own = self.own_tokenizer()
    if (training and tokenizer_path and own
        and not tokenizer_copy.same_tokenizer(tokenizer_path, own)):
      raise CheckpointError(
          f'{self.path} trained with the tokenizer {own}, but this run would '
          f'use {tokenizer_path}, which differs: its token ids would mean other words. Resume '
          f'with --config.data.tokenizer_path={own}, or use another --workdir.')

  def record(self, config: ml_collections.ConfigDict, tokenizer_path: str | None,
             adapter_base: dict | None = None) -> None:
    """Writes the format version, the config a training run trains with, a copy of its
    tokenizer and, for an adapter run, what identifies its frozen base. Process 0 alone: a
    multi-host run shares one workdir."""
    version = FORMAT_VERSION
    if jax.process_index() == 0:
      os.makedirs(self.path, exist_ok=True)
      if adapter_base is not None:  # before the format file that says to look for it
        atomic_files.write_json(self.adapter_base_file, adapter_base, indent=2)
      atomic_files.write_json(self.format_file, {'format_version': version})
      atomic_files.write_json(self.config_file, json.loads(config.to_json_best_effort()))
      if tokenizer_path:
        tokenizer_copy.copy_tokenizer(tokenizer_path, self.tokenizer_file, self.hf_tokenizer_dir)
    self.format_version = version

  def record_parameter_counts(self, total: int, trainable: int) -> None:
    """The model's parameter count and how many of them train (all; the adapters and a new head
    of an adapter run; the unfrozen ones of feature extraction), for tables. Process 0 alone."""
    if jax.process_index() == 0:
      atomic_files.write_json(self.parameters_file, {'total': total, 'trainable': trainable})

  def parameter_counts(self) -> dict | None:
    """{'total', 'trainable'}, or None for a run that has not recorded them."""
    try:
      with open(self.parameters_file) as f:
        return json.load(f)
    except (OSError, ValueError):
      return None

  def checkpoint_bytes(self) -> int | None:
    """The bytes of the latest train-state checkpoint on disk (arrays, optimizer state, data
    position, metadata); None without one."""
    step = self.latest_step()
    if step is None:
      return None
    folder = os.path.join(self.checkpoints_dir, str(step))
    return sum(os.path.getsize(os.path.join(d, name))
               for d, _, names in os.walk(folder) for name in names)

  def trains_adapters(self) -> bool:
    """Whether the run recorded a parameter-efficient config (peft.method other than none)."""
    peft = (self.saved_config() or {}).get('peft') or {}
    return peft.get('method', 'none') != 'none'

  def adapter_base(self) -> dict | None:
    """What identifies an adapter run's frozen base (init_from, description, fingerprint);
    None for a run that trains the model's own parameters, or before one has trained."""
    if self.format_version is None or self.format_version < 2:
      return None
    if self.format_version >= 3 and not self.trains_adapters():
      return None
    try:
      with open(self.adapter_base_file) as f:
        return json.load(f)
    except (OSError, ValueError) as e:
      raise RunFormatError(
          f'{self.path} is an adapter run (format {self.format_version}) but '
          f'{self.adapter_base_file} is unreadable ({type(e).__name__}: {e}), so its frozen '
          'base is unknown. Restore the file, or use another --workdir.') from e

  def write_params_only(self, config: ml_collections.ConfigDict, tokenizer_path: str | None,
                        step: int, params) -> None:
    """A run directory of one checkpoint holding `params` and no optimizer or data state (an
    adapter run merged into its base): init_from, eval and generate read it like any run; to
    train it further, init_from it."""
    self.record(config, tokenizer_path)
    saver = self.checkpointer(every_steps=1, keep=1)
    try:
      saver.maybe_save(step, {'params': params}, {}, force=True)
    finally:
      saver.wait()
      saver.close()

  # Checkpoints.

  def checkpointer(self, every_steps: int, keep: int, restore_fallback: bool = False,
                   writer: bool = True) -> Checkpointer:
    """The train-state checkpoints, to save and resume (`writer=False` to only read them)."""
    return Checkpointer(self.checkpoints_dir, every_steps, keep,
                        restore_fallback=restore_fallback, writer=writer)

  def best(self) -> BestCheckpoint:
    """The best evaluation's parameters, to save or read."""
    return BestCheckpoint(self.best_dir)

  def latest_step(self) -> int | None:
    """The newest complete train-state checkpoint, or None."""
    if not os.path.isdir(self.checkpoints_dir):
      return None
    return params_lib.latest_step(self.checkpoints_dir)

  def require_latest_step(self) -> int:
    step = self.latest_step()
    if step is None:
      raise FileNotFoundError(params_lib.no_checkpoint_message(self.checkpoints_dir))
    return step

  def read_params(self, step: int | None = None) -> tuple[dict, int]:
    """(params as numpy arrays, step) of train-state checkpoint `step` (default: the latest),
    without the optimizer state, checked against its integrity manifest."""
    return params_lib.read_params(self.checkpoints_dir, step)

  def param_shapes(self, step: int) -> dict:
    """The params of checkpoint `step` as jax.ShapeDtypeStructs, without reading a weight."""
    return params_lib.param_shapes(self.checkpoints_dir, step)
