"""The layout of the residual stream inside the jitted steps: rows split like the batch, the
model dimension whole on every device (Megatron-LM's layout). Without it GSPMD may carry FSDP's
split of d_model into the activations and reshard them at every layer ("involuntary full
rematerialization"). The models call `constrain_rows`; it does nothing outside a step that set a
mesh (decoding, tests of a module), so the models never need to know the mesh."""
import contextlib
import contextvars

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from lm_jax.partitioning.mesh import BATCH_AXES

_MESH = contextvars.ContextVar('lm_jax_activation_mesh', default=None)


@contextlib.contextmanager
def activations_on(mesh: Mesh):
  """While tracing a step for `mesh`, `constrain_rows` lays activations out over it."""
  token = _MESH.set(mesh)
  try:
    yield
  finally:
    _MESH.reset(token)


def constrain_rows(x):
  """`x` (B, ...) with its rows split along data x fsdp and the rest whole, inside a step traced
  under `activations_on`; `x` unchanged elsewhere or on one device."""
  mesh = _MESH.get()
  if mesh is None or mesh.size == 1 or x.shape[0] % _rows(mesh):
    return x
  return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(BATCH_AXES)))


def _rows(mesh: Mesh) -> int:
  return mesh.shape[BATCH_AXES[0]] * mesh.shape[BATCH_AXES[1]]


def in_layout(mesh: Mesh, fn):
  """`fn` traced with its activations laid out over `mesh`."""
  def traced(*args, **kwargs):
    with activations_on(mesh):
      return fn(*args, **kwargs)
  return traced
