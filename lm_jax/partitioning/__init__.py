"""Device layout, all of it here: the mesh (`data`, `fsdp`, `tensor`), the logical axes of every
parameter and the rules that map them onto the mesh, and the shardings of batches, parameters
and optimizer state that the jitted steps, checkpoints and evaluation use.

One code path serves one CPU, eight simulated devices and many hosts (after
`jax.distributed.initialize()`, which lm_jax/main.py calls for a multi-host run): every host
reads the same global batch and places the rows of its own devices. The default mesh is pure
data parallelism (every parameter replicated), as before the other axes existed.
"""
from lm_jax.partitioning.mesh import (BATCH_AXES, DATA_AXIS, FSDP_AXIS, MESH_AXES, TENSOR_AXIS,
                                      batch_shards, batch_sharding, check_heads, create_mesh,
                                      gather_rows, global_batch_size, mesh_shape, replicated,
                                      shard_batch, shard_rows)
from lm_jax.partitioning.logical_axes import DEFAULT_RULES, logical_axes
from lm_jax.partitioning.state import param_shardings, state_shardings

__all__ = ['BATCH_AXES', 'DATA_AXIS', 'DEFAULT_RULES', 'FSDP_AXIS', 'MESH_AXES', 'TENSOR_AXIS',
           'batch_shards', 'batch_sharding', 'check_heads', 'create_mesh', 'gather_rows',
           'global_batch_size', 'logical_axes', 'mesh_shape', 'param_shardings', 'replicated',
           'shard_batch', 'shard_rows', 'state_shardings']
