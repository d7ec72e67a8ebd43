"""The device mesh: axes `data`, `fsdp` and `tensor`, sized by config.mesh, and the shardings of
batches over it.

Batches split along `data` and `fsdp` (fully sharded data parallelism also gives each device its
own rows); the devices of one `tensor` group hold the same rows and split the layers' weights.
The axes are Auto (GSPMD decides the activations' layout from the parameters' and the batch's):
JAX 0.10's `jax.make_mesh` defaults to Explicit axes, which Linen's sharding does not assume.
"""
import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS, FSDP_AXIS, TENSOR_AXIS = 'data', 'fsdp', 'tensor'
MESH_AXES = (DATA_AXIS, FSDP_AXIS, TENSOR_AXIS)
BATCH_AXES = (DATA_AXIS, FSDP_AXIS)  # the axes a batch's rows split along


def mesh_shape(sizes: dict | None, num_devices: int) -> tuple[int, int, int]:
  """(data, fsdp, tensor) sizes from `sizes` (axis -> size, -1: the remaining devices; missing
  axes are 1, but data defaults to -1), checked against `num_devices`."""
  sizes = dict(sizes or {})
  unknown = set(sizes) - set(MESH_AXES)
  if unknown:
    raise ValueError(f'Unknown mesh axes {sorted(unknown)}; the mesh has {MESH_AXES}.')
  shape = [int(sizes.get(DATA_AXIS, -1)), int(sizes.get(FSDP_AXIS, 1)),
           int(sizes.get(TENSOR_AXIS, 1))]
  named = ', '.join(f'{a}={s}' for a, s in zip(MESH_AXES, shape))
  if any(s == 0 or s < -1 for s in shape) or shape.count(-1) > 1:
    raise ValueError(f'config.mesh sizes must be positive, with at most one -1 (the remaining '
                     f'devices); got {named}.')
  known = int(np.prod([s for s in shape if s != -1]))
  if -1 in shape:
    if num_devices % known:
      raise ValueError(f'config.mesh {named}: the fixed axes ({known} devices) do not divide '
                       f'the {num_devices} devices.')
    shape[shape.index(-1)] = num_devices // known
  if int(np.prod(shape)) != num_devices:
    raise ValueError(f'config.mesh {named} has {int(np.prod(shape))} devices, but there are '
                     f'{num_devices}: make data x fsdp x tensor equal {num_devices} (-1 takes the '
                     'remaining devices).')
  return tuple(shape)


def create_mesh(sizes: dict | None = None) -> Mesh:
  """The mesh over every device (of every host); `sizes` as config.mesh (default: all data)."""
  devices = jax.devices()
  shape = mesh_shape(sizes, len(devices))
  return Mesh(np.asarray(devices).reshape(shape), MESH_AXES,
              axis_types=(AxisType.Auto,) * len(MESH_AXES))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(BATCH_AXES))


def batch_shards(mesh: Mesh) -> int:
  """How many ways a batch's rows split: data x fsdp."""
  return int(np.prod([mesh.shape[axis] for axis in BATCH_AXES]))


def global_batch_size(per_device_batch_size, mesh: Mesh) -> int:
  if not isinstance(per_device_batch_size, int) or per_device_batch_size <= 0:
    raise ValueError(f'per_device_batch_size must be a positive integer, got '
                     f'{per_device_batch_size!r}.')
  return per_device_batch_size * mesh.size


def shard_batch(batch: dict, sharding: NamedSharding) -> dict:
  """The global batch, the same numpy rows on every host, -> jax arrays laid out over the mesh.

  Each host copies to its devices only the rows they hold, so one code path serves one device,
  eight, and many hosts.
  """
  return {name: shard_rows(array, sharding, f'Batch field {name!r}')
          for name, array in batch.items()}


def shard_rows(array: np.ndarray, sharding: NamedSharding, what: str = 'The batch') -> jax.Array:
  """One numpy array of the global batch, the same on every host, laid out over the mesh."""
  n = batch_shards(sharding.mesh)
  if array.shape[0] % n:
    raise ValueError(f'{what} has {array.shape[0]} rows, which do not divide across the {n} '
                     f'data x fsdp shards of the mesh: choose a batch size that is a multiple '
                     f'of {n}.')
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def gather_rows(array: jax.Array) -> np.ndarray:
  """All rows of a (batch-sharded) array as numpy, on every host."""
  if array.is_fully_addressable:
    return np.asarray(array)
  return multihost_utils.process_allgather(array, tiled=True)


def check_heads(model_config, mesh: Mesh) -> None:
  """Tensor parallelism splits attention by whole heads: their count must divide by the axis."""
  heads, tensor = getattr(model_config, 'num_heads', None), mesh.shape[TENSOR_AXIS]
  if heads and tensor > 1 and heads % tensor:
    raise ValueError(f'config.model.num_heads={heads} does not divide by the mesh\'s tensor axis '
                     f'(config.mesh.tensor={tensor}): tensor parallelism gives each device whole '
                     f'heads. Choose a tensor size that divides {heads}.')
