"""Device layout: one `Mesh` over every device and the shardings of parameters and batches.

Data parallelism through `jax.jit` + `NamedSharding` (what `pmap` became): the batch is split along
the mesh's `data` axis, parameters and optimizer state are replicated. The same code serves one
CPU, eight simulated devices and many hosts (after `jax.distributed.initialize()`).
"""
import jax
import numpy as np
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


def process_batch_size(global_batch: int, mesh: Mesh) -> int:
  """The rows this host feeds; each host produces its own slice of the global batch."""
  if global_batch % mesh.size:
    raise ValueError(f'A batch of {global_batch} rows does not divide across {mesh.size} devices: '
                     f'choose a batch size that is a multiple of {mesh.size}.')
  return global_batch // jax.process_count()


def shard_batch(batch: dict, sharding: NamedSharding) -> dict:
  """Host numpy batch (this process's rows) -> global jax arrays laid out over the mesh."""
  n = sharding.mesh.size
  for name, array in batch.items():
    if array.shape[0] * jax.process_count() % n:
      raise ValueError(f'Batch field {name!r} has {array.shape[0]} rows per host, which does not '
                       f'divide across {n} devices.')
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
