"""Shardings of parameters and of the optimizer state that follows them."""
import jax
from flax import traverse_util
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from lm_jax.partitioning.logical_axes import DEFAULT_RULES, logical_axes, partition_spec


def param_shardings(mesh: Mesh, params, rules=DEFAULT_RULES):
  """A tree like `params` (arrays or shapes) of NamedShardings, by logical axes and `rules`."""
  axes = logical_axes(params)
  return jax.tree.map(
      lambda value, names: NamedSharding(mesh, partition_spec(names, value.shape, mesh.shape,
                                                              rules)),
      params, axes, is_leaf=lambda x: isinstance(x, tuple))


def _keys(path) -> tuple:
  return tuple(str(getattr(entry, 'key', getattr(entry, 'name', entry))) for entry in path)


def _follow(spec: P, param_shape: tuple, shape: tuple) -> P:
  """The spec of an optimizer leaf of `shape` kept for a parameter of `param_shape` and `spec`:
  the same for a moment, without the last axis for Adafactor's row statistics (v_row), without
  the second-to-last for its column statistics (v_col); anything else (a placeholder, a count)
  is replicated."""
  spec = tuple(spec) + (None,) * (len(param_shape) - len(spec))
  if shape == param_shape:
    return P(*spec)
  if len(param_shape) >= 2 and shape == param_shape[:-1]:
    return P(*spec[:-1])
  if len(param_shape) >= 2 and shape == param_shape[:-2] + param_shape[-1:]:
    return P(*spec[:-2], spec[-1])
  return P()


def state_shardings(mesh: Mesh, state_shapes, rules=DEFAULT_RULES):
  """Shardings of a TrainState of shapes: params by their logical axes; each optimizer leaf like
  the parameter whose path ends its own (a moment, a factored statistic); the rest replicated."""
  params = param_shardings(mesh, state_shapes.params, rules)
  by_path = {path: (sharding.spec, shape.shape) for (path, sharding), shape in zip(
      traverse_util.flatten_dict(params).items(),
      traverse_util.flatten_dict(state_shapes.params).values())}

  def leaf_sharding(path, leaf):
    keys = _keys(path)
    for start in range(len(keys)):
      if keys[start:] in by_path:
        spec, param_shape = by_path[keys[start:]]
        return NamedSharding(mesh, _follow(spec, param_shape, tuple(leaf.shape)))
    return NamedSharding(mesh, P())

  opt_state = jax.tree_util.tree_map_with_path(leaf_sharding, state_shapes.opt_state)
  replicated = NamedSharding(mesh, P())
  return state_shapes.replace(step=replicated, params=params, opt_state=opt_state,
                              dropout_rng=replicated)
