"""Fine-tuning from pretrained weights: load an lm_jax run or a local Hugging Face directory,
merge its parameters into a new model's, and label which parameters train."""
import dataclasses
import functools
import json
import os
import re
from typing import Any, Callable, Iterable

import jax
import numpy as np
from flax import traverse_util

from lm_jax import convert
from lm_jax.choices import FINETUNE_MODES
from lm_jax.convert import hf_files
from lm_jax.data import hf_tokenizer
from lm_jax.peft import lora
from lm_jax.train import adapters
from lm_jax.train.run_dir import RunDir
from lm_jax.train.run_dir.integrity import tree_path
from lm_jax.train.run_dir.params import shapes_of

TRAINABLE, FROZEN = 'trainable', 'frozen'  # the labels optimizers.make_optimizer understands

_EXPECTED = ('an lm_jax workdir (config.json and checkpoints/ with at least one step) or a local '
             'Hugging Face directory (config.json with model_type, and its weights); nothing is '
             'downloaded')


@dataclasses.dataclass
class Pretrained:
  model_config: dict            # the `config.model` that builds this model, 'name' included
  data_config: dict | None      # the lm_jax run's `data` section; None for a Hugging Face dir
  tokenizer_path: str | None    # the tokenizer its token ids belong to, when known
  step: int | None              # the training step of an lm_jax checkpoint
  description: str              # for logs: where the weights came from
  load_params: Callable[[], dict] = dataclasses.field(repr=False)
  load_param_shapes: Callable[[], dict] = dataclasses.field(repr=False)

  @functools.cached_property
  def params(self) -> dict:
    """Nested dict of numpy arrays, as the model's 'params' collection: read (a Hugging Face
    directory's converted) on first use, so a fine-tuning run resuming from its own checkpoint
    never reads them."""
    return self.load_params()

  @functools.cached_property
  def param_shapes(self) -> dict:
    """`params` as jax.ShapeDtypeStructs: which parameters there are, for labelling the frozen
    ones, from an lm_jax checkpoint's metadata or a Hugging Face config without reading a
    weight."""
    if 'params' in self.__dict__:  # already read
      return shapes_of(self.params)
    return self.load_param_shapes()


def load_pretrained(path: str) -> Pretrained:
  """Reads `path`: an lm_jax workdir (the params of its latest checkpoint, without the optimizer
  state) or a local Hugging Face checkpoint directory (via lm_jax.convert.from_hf)."""
  path = os.path.expanduser(path)
  config_file = os.path.join(path, 'config.json')
  if not os.path.isfile(config_file):
    raise FileNotFoundError(f'No config.json in {path!r}; config.init_from must be {_EXPECTED}.')
  with open(config_file) as f:
    saved = json.load(f)
  if 'model_type' in saved:
    return _load_hf(path)
  if RunDir.holds_run(path):
    return _load_run(RunDir(path))
  raise ValueError(f'{config_file} is neither an lm_jax run config (with checkpoints/ beside it) '
                   f'nor a Hugging Face config (with model_type); config.init_from must be '
                   f'{_EXPECTED}.')


def _load_run(run: RunDir) -> Pretrained:
  step = run.require_latest_step()
  saved = run.saved_config()
  if run.adapter_base() is not None:
    return _load_adapter_run(run, step, saved)
  return Pretrained(
      model_config=dict(saved['model']), data_config=saved.get('data'),
      tokenizer_path=run.tokenizer_path(), step=step,
      description=f"lm_jax run {run.path} (model {saved['model'].get('name')!r}, step {step})",
      # The step chosen now, even if the run has checkpointed again by the time it is read.
      load_params=lambda: run.read_params(step)[0],
      load_param_shapes=lambda: run.param_shapes(step))


def _load_adapter_run(run: RunDir, step: int, saved: dict) -> Pretrained:
  """An adapter run as a whole model: its base with the adapters of checkpoint `step` merged in
  (and its new head), as eval mode computes it."""
  if saved['peft'].get('method') != 'lora':
    raise ValueError(
        f"{run.path} is a {saved['peft'].get('method')}-tuned run: its prefixes or virtual tokens "
        'are inputs of the model, not weights of it, so it cannot serve as init_from. Start from '
        f"its base, {saved['init_from']!r}, or from a LoRA or full fine-tuning run.")
  base = load_pretrained(saved['init_from'])
  record = adapters.base_record(saved['init_from'], base)
  adapters.check_base(run.adapter_base(), record, run.path)
  spec = adapters.spec_of(saved['peft'])

  def load_params():
    trainable, _ = run.read_params(step)
    merged = jax.jit(adapters.merged, static_argnums=0)(spec, base.params, trainable)
    lora.check_finite(merged, run.path)
    return jax.device_get(merged)

  def load_param_shapes():
    trainable = run.param_shapes(step)
    return adapters.combine(base.param_shapes, trainable.get(adapters.HEAD, {}))

  return Pretrained(
      model_config=dict(saved['model']), data_config=saved.get('data'),
      tokenizer_path=run.tokenizer_path(), step=step,
      description=(f"lm_jax adapter run {run.path} (model {saved['model'].get('name')!r}, step "
                   f'{step}) merged into {base.description}'),
      load_params=load_params, load_param_shapes=load_param_shapes)


def _load_hf(path: str) -> Pretrained:
  model = convert.module_from_hf(path)  # the weights are converted on first use
  model_config = {'name': type(model.config).NAME, **dataclasses.asdict(model.config)}
  return Pretrained(
      model_config=model_config, data_config=None, tokenizer_path=_hf_tokenizer_path(path),
      step=None,
      description=f'Hugging Face checkpoint {path} (model {model_config["name"]!r})',
      load_params=lambda: convert.from_hf(path)[1]['params'],
      load_param_shapes=lambda: traverse_util.unflatten_dict(hf_files.param_shapes(model)))


def _hf_tokenizer_path(path: str) -> str | None:
  """T5's SentencePiece model when saved with it (the T5 conventions, sentinels included), else
  the directory's Hugging Face tokenizer (GPT-2's BPE, BERT's WordPiece), else None."""
  spiece = os.path.join(path, 'spiece.model')
  if os.path.isfile(spiece):
    return spiece
  return path if hf_tokenizer.find_hf_tokenizer(path) else None


@dataclasses.dataclass(frozen=True)
class MergeReport:
  loaded: tuple[str, ...]   # in the model and the checkpoint: pretrained values
  new: tuple[str, ...]      # in the model only (a new task head): initialised
  unused: tuple[str, ...]   # in the checkpoint only (e.g. BERT's mlm_head under a classifier)

  def summary(self) -> str:
    def some(paths):
      shown = ', '.join(paths[:4])
      return f'{shown}, ...' if len(paths) > 4 else shown
    text = f'{len(self.loaded)} parameters loaded'
    if self.new:
      text += f'; {len(self.new)} new ({some(self.new)})'
    if self.unused:
      text += f'; {len(self.unused)} unused ({some(self.unused)})'
    return text


def merge_params(initial, pretrained) -> tuple[Any, MergeReport]:
  """`initial` (the model's params: arrays, or ShapeDtypeStructs to only check and report) with
  every parameter the checkpoint also has replaced by its pretrained value (as numpy, cast to the
  initial dtype). `pretrained` may be ShapeDtypeStructs too when `initial` is. Paths are
  '/'-joined; a shape mismatch is an error."""
  flat_pretrained = traverse_util.flatten_dict(pretrained, sep='/')
  loaded, new, mismatched = [], [], []

  def take(key_path, value):
    path = tree_path(key_path)
    if path not in flat_pretrained:
      new.append(path)
      return value
    source = flat_pretrained[path]
    if tuple(source.shape) != tuple(value.shape):
      mismatched.append(f'{path}: model {tuple(value.shape)}, checkpoint {tuple(source.shape)}')
      return value
    loaded.append(path)
    if isinstance(value, jax.ShapeDtypeStruct):
      return value
    return np.asarray(source).astype(value.dtype, copy=False)

  params = jax.tree_util.tree_map_with_path(take, initial)
  if mismatched:
    raise ValueError(
        f'{len(mismatched)} pretrained parameters differ in shape from the model: '
        f'{"; ".join(mismatched[:10])}. config.model must have the pretrained model\'s shape '
        '(vocab_size, d_model, heads, layers) for config.init_from to load into it.')
  unused = sorted(set(flat_pretrained) - set(loaded))
  return params, MergeReport(tuple(loaded), tuple(new), tuple(unused))


def trainable_labels(params, mode: str, trainable_regex: str, new_paths: Iterable[str]):
  """A pytree like `params` of 'trainable' / 'frozen' for optimizers.make_optimizer.

  'full' trains everything. 'frozen' trains the paths `trainable_regex` finds (re.search on the
  '/'-joined path), or when it is empty the `new_paths` a merge did not load (a new head).
  """
  if mode not in FINETUNE_MODES:
    raise ValueError(f'config.finetune.mode must be one of {FINETUNE_MODES}, got {mode!r}.')
  if mode == 'full':
    return jax.tree.map(lambda _: TRAINABLE, params)
  if trainable_regex:
    try:
      pattern = re.compile(trainable_regex)
    except re.error as e:
      raise ValueError(f'config.finetune.trainable={trainable_regex!r} is not a regular '
                       f'expression: {e}.') from e
    is_trainable = lambda path: pattern.search(path) is not None
  else:
    new = set(new_paths)
    is_trainable = lambda path: path in new
  labels = jax.tree_util.tree_map_with_path(
      lambda key_path, _: TRAINABLE if is_trainable(tree_path(key_path)) else FROZEN, params)
  if TRAINABLE not in jax.tree.leaves(labels):
    why = (f'config.finetune.trainable={trainable_regex!r} matches none of the parameter paths'
           if trainable_regex else
           'config.init_from provided every parameter, so there is no new head to train')
    examples = [tree_path(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0][:3]]
    raise ValueError(
        f"config.finetune.mode='frozen' leaves no parameter trainable: {why}. Set "
        "config.finetune.trainable to a regex over '/'-joined parameter paths (such as "
        f"{', '.join(examples)}), or use config.finetune.mode='full'.")
  return labels
