"""Device layout: one `Mesh` over every device and the shardings of parameters and batches.

Data parallelism through `jax.jit` + `NamedSharding` (what `pmap` became): the batch is split along
the mesh's `data` axis, parameters and optimizer state are replicated. The same code serves one
CPU, eight simulated devices and many hosts (after `jax.distributed.initialize()`, which
lm_jax/main.py calls for a multi-host run): every host reads the same global batch and places the rows of its
own devices.
"""
import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = 'data'


def create_mesh() -> Mesh:
  return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA_AXIS))


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
  n = sharding.mesh.size
  if array.shape[0] % n:
    raise ValueError(f'{what} has {array.shape[0]} rows, which do not divide across {n} '
                     f'devices: choose a batch size that is a multiple of {n}.')
  return jax.make_array_from_callback(array.shape, sharding, lambda index: array[index])


def gather_rows(array: jax.Array) -> np.ndarray:
  """All rows of a (batch-sharded) array as numpy, on every host."""
  if array.is_fully_addressable:
    return np.asarray(array)
  return multihost_utils.process_allgather(array, tiled=True)
