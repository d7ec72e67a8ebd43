"""Which Dense layers an adapter targets: patterns over module names, as peft's `target_modules`.

A pattern matches a Dense layer whose '/'-joined path ends with it at a name boundary: 'query'
matches every attention's query projection (T5's cross-attention included), 'cross_attention/
query' only those. Names, never layer indices, so the patterns keep matching when layers are
stacked under nn.scan. 'all-linear' is every Dense layer but the model's output layers.
"""
import re

from flax import traverse_util

ALL_LINEAR = 'all-linear'
_LAYER = re.compile(r'layers_\d+')  # a stack's layer, as the families name them


def dense_kernels(params) -> dict:
  """'/'-joined path of each Dense layer -> its kernel's (in, out) shape, from params (arrays or
  ShapeDtypeStructs): every 2-D `kernel`."""
  flat = traverse_util.flatten_dict(params)
  return {'/'.join(key[:-1]): tuple(value.shape) for key, value in flat.items()
          if key[-1] == 'kernel' and len(value.shape) == 2}


def _matches(path: str, pattern: str) -> bool:
  return path == pattern or path.endswith('/' + pattern)


def resolve(patterns, kernels: dict, output_layers=(), trained_in_full=()) -> dict:
  """The entries of `kernels` that `patterns` target.

  `output_layers`: module names 'all-linear' leaves out (peft keeps the LM head and the
  classifier out of it). `trained_in_full`: '/'-joined paths of new parameters (a task head the
  pretrained model lacks), which train whole, as peft's `modules_to_save`, and take no adapter.
  """
  patterns = tuple(patterns)

  def head(path):
    return any(p.startswith(path + '/') for p in trained_in_full)

  if patterns == (ALL_LINEAR,):
    chosen = {path: shape for path, shape in kernels.items()
              if path.split('/')[-1] not in output_layers and not head(path)}
    if not chosen:
      raise ValueError("peft.targets='all-linear' found no Dense layer besides the output layers.")
    return chosen
  if ALL_LINEAR in patterns:
    raise ValueError(f"peft.targets: 'all-linear' stands alone; got {','.join(patterns)}.")
  chosen = {}
  for pattern in patterns:
    found = [path for path in kernels if _matches(path, pattern)]
    if not found:
      raise ValueError(
          f'peft.targets pattern {pattern!r} matches no Dense layer of this model. Its Dense '
          f'layers: {", ".join(available(kernels))} (a pattern matches the end of a '
          f"'/'-joined path, e.g. 'query' or 'cross_attention/query'; or use 'all-linear').")
    heads = [path for path in found if head(path)]
    if heads:
      raise ValueError(
          f'peft.targets pattern {pattern!r} matches {", ".join(heads)}, new parameters that '
          'init_from does not provide: they train in full (as peft\'s modules_to_save) and '
          'take no adapter. Leave them out of peft.targets.')
    chosen.update({path: kernels[path] for path in found})
  return chosen


def available(kernels: dict) -> list[str]:
  """The Dense layers of `kernels` as patterns would name them, without layer indices."""
  def unindexed(path):
    return '/'.join(p for p in path.split('/') if not _LAYER.fullmatch(p))
  return sorted({unindexed(path) for path in kernels})


def check_rank(rank: int, chosen: dict) -> None:
  """A rank above min(in, out) adds parameters without adding expressiveness: refused."""
  too_small = {path: shape for path, shape in chosen.items() if rank > min(shape)}
  if too_small:
    path, shape = next(iter(sorted(too_small.items())))
    raise ValueError(
        f'peft.rank={rank} exceeds what {len(too_small)} targeted layer(s) allow, e.g. {path} '
        f'with kernel {shape}: the rank of an update to it is at most {min(shape)}. Lower '
        '--config.peft.rank, or leave those layers out of peft.targets.')
