"""Adafactor's placeholder arrays, left out of checkpoints (format 3 on).

optax's factored second-moment state keeps, for every parameter, `v_row`, `v_col` and `v`, of
which only one role holds statistics: a parameter it factors uses `v_row` and `v_col`, any other
`v`. The unused role is a constant zeros((1,)) that optax never reads. Saved, each placeholder
costs orbax about 1 kB of metadata, even as an empty node: for an adapter run, whose arrays are
small, that was a third of its checkpoint. `strip` prunes them from the tree before saving and
`fill` puts the same zeros back after restoring, so the train state the step sees is unchanged.
"""
import jax
import jax.numpy as jnp
import optax

_SHAPE = (1,)


def _is_factored_state(node) -> bool:
  return isinstance(node, optax.FactoredState)


def _prune(tree):
  """`tree` without its None leaves and the dicts left empty; other nodes are kept whole."""
  if not isinstance(tree, dict):
    return tree
  pruned = {key: _prune(value) for key, value in tree.items()}
  return {key: value for key, value in pruned.items()
          if value is not None and not (isinstance(value, dict) and not value)}


def _strip_factored(node: optax.FactoredState) -> optax.FactoredState:
  # optax factors a parameter over two dimensions of at least min_dim_size_to_factor, so the
  # v_row of one it factors is never the (1,) placeholder.
  factored = jax.tree.map(lambda v_row: tuple(v_row.shape) != _SHAPE, node.v_row)

  def kept(tree, where_factored: bool):
    return _prune(jax.tree.map(lambda x, f: x if f == where_factored else None, tree, factored))
  return node._replace(v_row=kept(node.v_row, True), v_col=kept(node.v_col, True),
                       v=kept(node.v, False))


def strip(state):
  """`state` without the placeholders: each factored state's `v_row`, `v_col` and `v` keep the
  entries that hold statistics. A state without Adafactor is returned as it is."""
  return jax.tree.map(lambda node: _strip_factored(node) if _is_factored_state(node) else node,
                      state, is_leaf=_is_factored_state)


def count_leaves(state) -> int:
  return len(jax.tree.leaves(state))


def _zeros(shape):
  """A zeros array of `shape` (a ShapeDtypeStruct), placed as its sharding says: jit places it
  on every host's devices, as a multi-host restore needs."""
  make = jax.jit(lambda: jnp.zeros(shape.shape, shape.dtype),
                 out_shardings=getattr(shape, 'sharding', None))
  return make()


def _fill_field(kept, target):
  """The tree of `target` with the arrays of `kept` (its pruned form) and zeros elsewhere."""
  values = {path: value for path, value in jax.tree_util.tree_flatten_with_path(kept)[0]}
  paths_and_shapes, treedef = jax.tree_util.tree_flatten_with_path(target)
  return jax.tree.unflatten(
      treedef, [values[path] if path in values else _zeros(shape)
                for path, shape in paths_and_shapes])


def fill(restored, target):
  """`restored`, read into `strip(target)`, with the placeholders back as `target` has them."""
  def fill_node(target_node, restored_node):
    if not _is_factored_state(target_node):
      return restored_node
    return restored_node._replace(
        **{field: _fill_field(getattr(restored_node, field), getattr(target_node, field))
           for field in ('v_row', 'v_col', 'v')})
  return jax.tree.map(fill_node, target, restored, is_leaf=_is_factored_state)
