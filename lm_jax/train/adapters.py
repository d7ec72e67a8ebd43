"""A parameter-efficient run's two halves: the frozen base (init_from's weights, never updated,
never checkpointed) and what trains (LoRA adapters or prefix-tuning's keys and values, and any
new head in full, as peft's `modules_to_save`), and the one model they compute together.

The train state's `params` are the trainable half alone, {'lora' or 'prefix': adapters, 'head':
new parameters}, so the optimizer holds state for them only and a checkpoint holds them only.
"""
import contextlib
import dataclasses
import hashlib

import jax
import ml_collections
import numpy as np
from flax import traverse_util

from lm_jax import families
from lm_jax.peft import lora, prefix, prompt, targets as targets_lib
from lm_jax.train.run_dir import CheckpointError

LORA, PREFIX, PROMPT, HEAD = 'lora', 'prefix', 'prompt', 'head'


def fingerprint(params) -> str:
  """sha256 of every parameter's path, dtype, shape and bytes: which base an adapter belongs to."""
  digest = hashlib.sha256()
  for path, value in sorted(traverse_util.flatten_dict(params, sep='/').items()):
    value = np.ascontiguousarray(np.asarray(value))
    digest.update(f'{path}:{value.dtype}:{value.shape};'.encode())
    digest.update(value.tobytes())
  return digest.hexdigest()


def base_record(init_from: str, pretrained) -> dict:
  """What adapter_base.json keeps of a base: where it was and the fingerprint of all it holds."""
  return {'init_from': init_from, 'description': pretrained.description,
          'fingerprint': fingerprint(pretrained.params)}


def check_base(recorded: dict | None, current: dict, workdir: str) -> None:
  """Refuses adapters whose base now holds other weights (retrained, edited, another model)."""
  if recorded is not None and recorded['fingerprint'] != current['fingerprint']:
    raise CheckpointError(
        f"{workdir} holds adapters trained on {recorded['description']} (parameter fingerprint "
        f"{recorded['fingerprint'][:12]}), but {current['init_from']!r} now holds other weights "
        f"(fingerprint {current['fingerprint'][:12]}): the adapters would compute something "
        'else. Point --config.init_from at the base they were trained on, or use another '
        '--workdir.')


def combine(base, head) -> dict:
  """The whole model's params tree: the frozen base with a trainable head in place."""
  flat = traverse_util.flatten_dict(base)
  flat.update(traverse_util.flatten_dict(head))
  return traverse_util.unflatten_dict(flat)


def merged(spec: lora.LoraSpec, base, trainable) -> dict:
  """Plain parameters computing what the adapted model computes (evaluation, decoding): the
  base with the trainable head in place and the adapters folded in."""
  return lora.merge(spec, combine(base, trainable.get(HEAD, {})), trainable[LORA])


def spec_of(peft) -> lora.LoraSpec:
  return lora.LoraSpec(rank=peft['rank'], alpha=peft['alpha'], dropout=peft['dropout'],
                       use_rslora=peft['use_rslora'], init=peft['init'])


@dataclasses.dataclass(frozen=True)
class Lora:
  """Low-rank updates of Dense kernels, added by interception in training, folded in after."""
  spec: lora.LoraSpec
  kernels: dict  # adapted Dense path -> kernel (in, out)
  key = LORA

  def init(self, rng):
    return lora.init_adapters(self.spec, self.kernels, rng)

  def applied(self, adapters):
    return lora.applied(self.spec, adapters)

  def combine(self, params, adapters):
    del adapters  # they act through `applied`
    return params

  def merge(self, params, adapters):
    return lora.merge(self.spec, params, adapters)

  def describe(self) -> str:
    return (f'LoRA r={self.spec.rank} alpha={self.spec.alpha:g} on {len(self.kernels)} Dense '
            'layers')


@dataclasses.dataclass(frozen=True)
class Prefix:
  """Key/value prefixes that the attention layers read from the params tree; the MLP of the
  reparameterisation is evaluated wherever they are used, so evaluation sees it folded."""
  spec: prefix.PrefixSpec
  key = PREFIX

  def init(self, rng):
    return prefix.init_prefix(self.spec, rng)

  def applied(self, prefixes):
    del prefixes  # they act through the params `combine` adds them to
    return contextlib.nullcontext()

  def combine(self, params, prefixes):
    return prefix.insert(self.spec, params, prefixes)

  merge = combine

  def describe(self) -> str:
    mlp = ' through an MLP' if self.spec.projection else ''
    return (f'prefix tuning: {self.spec.num_virtual_tokens} key/value vectors{mlp} in '
            f'{len(self.spec.layers)} attention layers')


@dataclasses.dataclass(frozen=True)
class Prompt:
  """Virtual-token embeddings that the token embedder reads from the params tree; they start as
  the base's embeddings of chosen tokens (`start_from_base`)."""
  spec: prompt.PromptSpec
  key = PROMPT

  def init(self, rng):
    del rng  # the start is the base's rows, set by `start_from_base`
    return np.zeros((self.spec.num_virtual_tokens, self.spec.d_model), np.float32)

  def start_from_base(self, trained, base):
    del trained
    return prompt.from_base(self.spec, base)

  def applied(self, rows):
    del rows  # they act through the params `combine` adds them to
    return contextlib.nullcontext()

  def combine(self, params, rows):
    return prompt.insert(params, rows)

  merge = combine

  def describe(self) -> str:
    return f'prompt tuning: {self.spec.num_virtual_tokens} virtual tokens'


def method_from_config(peft: ml_collections.ConfigDict, model, abstract_params, new_paths,
                       tokenizer=None, seed: int = 0):
  """The adapter method config.peft names, checked against the model's shapes. Prompt tuning
  reads its initial tokens with `tokenizer`."""
  if peft.method == 'prompt':
    ids = prompt.init_ids(peft.num_virtual_tokens, peft.prompt_init, peft.prompt_init_text,
                          tokenizer, seed)
    return Prompt(prompt.spec_for(model, abstract_params, ids))
  if peft.method == 'prefix':
    return Prefix(prefix.spec_for(model, abstract_params, peft.num_virtual_tokens,
                                  peft.prefix_projection))
  family = families.of(model)
  patterns = tuple(peft.targets) or family.lora_targets
  kernels = targets_lib.resolve(patterns, targets_lib.dense_kernels(abstract_params),
                                family.output_layers, tuple(new_paths))
  targets_lib.check_rank(peft.rank, kernels)
  return Lora(spec_of(peft), kernels)


@dataclasses.dataclass(frozen=True)
class Adapters:
  method: Lora | Prefix | Prompt
  head_paths: tuple[str, ...]   # new parameters ('/'-joined) that train in full

  @classmethod
  def from_config(cls, peft: ml_collections.ConfigDict, model, abstract_params,
                  new_paths, tokenizer=None, seed: int = 0) -> 'Adapters':
    """Checks the method's targets against the model's layers (shapes only)."""
    return cls(method_from_config(peft, model, abstract_params, new_paths, tokenizer, seed),
               tuple(sorted(new_paths)))

  def init_trainable(self, initial_params, rng) -> dict:
    """The trainable half at step 0: fresh adapters, and the new head as the model initialised
    it (`initial_params`: the whole model's fresh parameters)."""
    trainable = {self.method.key: self.method.init(rng)}
    if self.head_paths:
      trainable[HEAD] = _pick(initial_params, self.head_paths)
    return trainable

  def start_from_base(self, trainable, base) -> dict:
    """The trainable half at step 0 where it starts from the base's values (prompt tuning's
    rows); as it is otherwise."""
    start = getattr(self.method, 'start_from_base', None)
    if start is None:
      return trainable
    return {**trainable, self.method.key: start(trainable[self.method.key], base)}

  def frozen_base(self, params) -> dict:
    """`params` (the model's, init_from's values loaded) without the head that trains."""
    flat = traverse_util.flatten_dict(params, sep='/')
    return traverse_util.unflatten_dict(
        {k: v for k, v in flat.items() if not _under(k, self.head_paths)}, sep='/')

  def combine(self, base, trainable) -> dict:
    """What the train step applies the model to (under `applied`)."""
    return self.method.combine(combine(base, trainable.get(HEAD, {})), trainable[self.method.key])

  def merged(self, base, trainable) -> dict:
    """Plain parameters computing what the adapted model computes (evaluation, decoding)."""
    return self.method.merge(combine(base, trainable.get(HEAD, {})), trainable[self.method.key])

  @contextlib.contextmanager
  def applied(self, trainable):
    """`model.apply` within the block runs the adapted model (training)."""
    with self.method.applied(trainable[self.method.key]):
      yield

  def describe(self, num_base: int, trainable) -> str:
    count = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(trainable))
    head = f' and {len(self.head_paths)} new head parameters' if self.head_paths else ''
    return (f'{self.method.describe()}{head}: {count:,} trainable parameters, '
            f'{100 * count / num_base:.3g}% of the {num_base:,} frozen')


def _under(path: str, prefixes) -> bool:
  return any(path == p or path.startswith(p + '/') for p in prefixes)


def _pick(params, paths) -> dict:
  flat = traverse_util.flatten_dict(params, sep='/')
  return traverse_util.unflatten_dict({k: v for k, v in flat.items() if _under(k, paths)},
                                      sep='/')
