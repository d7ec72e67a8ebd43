"""The logical axes of every parameter (embed, heads, mlp, vocab, ...), named once here from the
parameter's place in the tree, and the default rules that map them onto the mesh.

The names are those of T5X and MaxText; the mapping is Flax's (`nn.logical_to_mesh_axes` with
`config.mesh.rules`). They are given by path rather than by each module's initialiser, so that
every parameter any code creates gets them the same way: the families' own, Hugging Face
imports, LoRA's adapters (named after the layer they adapt), prefix and prompt tuning's rows and
the value head. Parameter trees stay plain arrays, so checkpoints and HF export do not depend on
the layout: a checkpoint restores onto any mesh.
"""
import re

import flax.linen as nn
from flax import traverse_util
from jax.sharding import PartitionSpec as P

EMBED, HEADS, MLP, VOCAB = 'embed', 'heads', 'mlp', 'vocab'

# Logical axis -> mesh axis (Flax's logical_axis_rules). FSDP shards every weight along
# d_model; tensor parallelism splits attention by heads, the feed-forward block by its hidden
# units and the embedding by vocabulary (Megatron-LM's layout). Unlisted axes are replicated,
# and so are norm scales and biases along d_model: too small to be worth a collective.
DEFAULT_RULES = ((EMBED, 'fsdp'), (HEADS, 'tensor'), (MLP, 'tensor'), (VOCAB, 'tensor'))

# '/'-joined parameter path (its end) -> logical axes, first match wins.
_AXES = (
    (r'(query|key|value)/kernel$', (EMBED, HEADS)),
    (r'(query|key|value)/bias$', (HEADS,)),
    (r'attention/out/kernel$', (HEADS, EMBED)),
    (r'/wi(_\d)?/kernel$', (EMBED, MLP)),
    (r'/wi(_\d)?/bias$', (MLP,)),
    (r'/wo/kernel$', (MLP, EMBED)),
    (r'(^|/)token_embedder/embedding$', (VOCAB, EMBED)),
    (r'(^|/)token_embedder/prompt$', (None, EMBED)),           # prompt tuning's rows
    (r'(^|/)position_embedder/embedding$', (None, EMBED)),
    (r'relative_position_bias/embedding$', (None, HEADS)),    # (buckets, heads)
    (r'(^|/)lm_head/kernel$', (EMBED, VOCAB)),
    (r'(^|/)mlm_head/bias$', (VOCAB,)),
    (r'(transform|pooler|classifier|value_head)/kernel$', (EMBED, None)),
    (r'prefix_(key|value)$', (None, HEADS)),                  # prefix tuning: (P, heads x dim)
)
_LORA = re.compile(r'^(.*)/lora_(a|b)$')


def _axes_of(path: str, ndim: int) -> tuple:
  lora = _LORA.match(path)
  if lora:  # lora_a (in, r) and lora_b (r, out) follow the kernel they adapt
    kernel = _axes_of(f'{lora.group(1)}/kernel', 2)
    return (kernel[0], None) if lora.group(2) == 'a' else (None, kernel[1])
  for pattern, axes in _AXES:
    if re.search(pattern, path) and len(axes) == ndim:
      return axes
  return (None,) * ndim


def logical_axes(params) -> dict:
  """A tree like `params` (arrays or shapes) of each parameter's logical axis names, None for
  an axis that is not split."""
  flat = traverse_util.flatten_dict(params, sep='/')
  return traverse_util.unflatten_dict(
      {path: _axes_of(path, len(value.shape)) for path, value in flat.items()}, sep='/')


def partition_spec(axes: tuple, shape: tuple, mesh_shape: dict, rules) -> P:
  """The mesh PartitionSpec of a parameter of `shape` with logical `axes` under `rules`; an axis
  that does not divide by its mesh axis's size stays whole (GSPMD would pad it)."""
  spec = nn.logical_to_mesh_axes(axes, rules)
  return P(*(axis if axis is None or size % mesh_shape[axis] == 0 else None
             for axis, size in zip(spec, shape)))
