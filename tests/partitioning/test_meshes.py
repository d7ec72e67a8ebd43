"""Model sharding over the (data, fsdp, tensor) mesh: on 8 simulated CPU devices every mesh
trains to the 1-device losses, the per-device bytes of parameters and optimizer state fall as
1 / (fsdp x tensor), and a checkpoint saved on one mesh restores onto another."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from lm_jax import partitioning
from lm_jax.partitioning import state

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MESHES = ((8, 1, 1), (2, 4, 1), (2, 2, 2))
STEPS = 20

_SCRIPT = '''
import json, os, sys
import jax, numpy as np
from lm_jax import partitioning
from lm_jax.config.schema import load_config
from lm_jax.train import train_step as steps
from lm_jax.train.trainer import Trainer
data_dir, root, num_steps, jobs = sys.argv[1:4] + [json.loads(sys.argv[4])]
num_steps = int(num_steps)


def config_for(spec, model_overrides, mesh):
  config = load_config(spec)
  config.data.data_dir = data_dir
  config.model.update(model_overrides)
  config.per_device_batch_size = 16 // jax.device_count()
  config.update(num_train_steps=num_steps, checkpoint_every_steps=num_steps, num_samples=0)
  config.optimizer.warmup_steps = 2
  config.mesh.update(data=mesh[0], fsdp=mesh[1], tensor=mesh[2])
  return config


def per_device_bytes(tree):
  return sum(x.addressable_shards[0].data.nbytes for x in jax.tree.leaves(tree))


out = {}
for name, spec, model_overrides, meshes, restore_onto in jobs:
  for mesh in meshes:
    # The loop's own pieces (trainer, jitted step, checkpointer), without its evaluation.
    workdir = os.path.join(root, name, '_'.join(map(str, mesh)))
    config = config_for(spec, model_overrides, mesh)
    trainer = Trainer(config, workdir)
    state, losses = trainer.initial_state(), []
    for step in range(1, num_steps + 1):
      batch = partitioning.shard_batch(next(trainer.train_iter), trainer.batch_sharding)
      state, metrics = trainer.train_step(state, batch)
      losses.append(steps.summarize(jax.device_get(metrics))['loss'])
    out[f'{name} {tuple(mesh)}'] = {'losses': losses,
                                    'param_bytes': per_device_bytes(state.params),
                                    'opt_bytes': per_device_bytes(state.opt_state)}
    if mesh == meshes[0] and restore_onto:  # its checkpoint, restored onto another mesh
      trainer.checkpointer.maybe_save(num_steps, state, trainer.train_iter.get_state(),
                                      force=True)
      trainer.checkpointer.wait()
      saved = jax.tree.map(np.asarray, state.params)
      other = Trainer(config_for(spec, model_overrides, restore_onto), workdir).initial_state()
      out[f'{name} restored'] = {
          'equal': all(jax.tree.leaves(jax.tree.map(
              lambda a, b: bool(np.array_equal(a, np.asarray(b))), saved, other.params))),
          'specs': sorted({str(x.sharding.spec) for x in jax.tree.leaves(other.params)}),
          'replicated': all(x.sharding.is_fully_replicated
                            for x in jax.tree.leaves(other.params))}
print(json.dumps(out))
'''
# family -> (config, model overrides, meshes it trains on, the mesh its first mesh's checkpoint
# is restored onto). GPT on every mesh, with 8 heads of 8 so that it also runs on (1, 1, 8)
# (heads must divide by the tensor axis), its data-parallel checkpoint restored sharded; T5 and
# BERT on (2, 2, 2), which uses all three axes at once, their sharded checkpoints restored
# replicated (each 8-device run costs the suite ~30 s).
JOBS = {'t5': ('t5_small.py:tiny', {}, ((2, 2, 2),), (8, 1, 1)),
        'gpt': ('gpt2_small.py:tiny', {'num_heads': 8, 'head_dim': 8}, MESHES + ((1, 1, 8),),
                (2, 2, 2)),
        'bert': ('bert_base.py:tiny', {}, ((2, 2, 2),), (8, 1, 1))}


def _run(devices, data_dir, root, jobs):
  env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
             JAX_PLATFORMS='cpu')
  result = subprocess.run(
      [sys.executable, '-c', _SCRIPT, data_dir, root, str(STEPS), json.dumps(jobs)],
      env=env, cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def runs(data_dir, tmp_path_factory):
  """Every run, in two processes (one compilation cache): each family on 1 device, and on 8
  devices over each mesh."""
  root = str(tmp_path_factory.mktemp('meshes'))
  jobs = [[name, f'configs/{spec}', overrides, meshes, restore_onto]
          for name, (spec, overrides, meshes, restore_onto) in JOBS.items()]
  one = _run(1, data_dir, root + '/one', [job[:3] + [[(1, 1, 1)], None] for job in jobs])
  return {**one, **_run(8, data_dir, root + '/eight', jobs)}


@pytest.mark.parametrize('family', sorted(JOBS))
def test_every_mesh_trains_like_one_device(family, runs):
  one = runs[f'{family} (1, 1, 1)']
  for mesh in JOBS[family][2]:
    sharded = runs[f'{family} {mesh}']
    assert len(sharded['losses']) == STEPS
    np.testing.assert_allclose(sharded['losses'], one['losses'], rtol=1e-5, err_msg=str(mesh))
    _, fsdp, tensor = mesh
    for key in ('param_bytes', 'opt_bytes'):
      expected = one[key] / (fsdp * tensor)
      # (1, 1, 8) leaves more replicated (the position table, norms): a looser bound there.
      assert sharded[key] == pytest.approx(expected, rel=0.1 if tensor < 8 else 0.5), (mesh, key)


@pytest.mark.parametrize('family', sorted(JOBS))
def test_a_checkpoint_restores_onto_another_mesh(family, runs):
  restored = runs[f'{family} restored']  # saved on the family's first mesh
  assert restored['equal']
  if JOBS[family][3] == (8, 1, 1):
    assert restored['replicated']  # sharded when saved, whole on every device now
  else:
    assert "P('fsdp', 'tensor')" in restored['specs'] and not restored['replicated']


def test_mesh_sizes_resolve_and_bad_products_are_refused():
  assert partitioning.mesh_shape({'data': -1, 'fsdp': 2, 'tensor': 2}, 8) == (2, 2, 2)
  assert partitioning.mesh_shape(None, 8) == (8, 1, 1)
  with pytest.raises(ValueError, match='has 12 devices, but there are 8'):
    partitioning.mesh_shape({'data': 3, 'fsdp': 2, 'tensor': 2}, 8)
  with pytest.raises(ValueError, match='do not divide the 8 devices'):
    partitioning.mesh_shape({'data': -1, 'fsdp': 3}, 8)
  with pytest.raises(ValueError, match='at most one -1'):
    partitioning.mesh_shape({'data': -1, 'fsdp': -1}, 8)


def test_heads_must_divide_by_the_tensor_axis():
  class FourHeads:
    num_heads = 4

  class Mesh:
    shape = {'data': 1, 'fsdp': 1, 'tensor': 8}
  with pytest.raises(ValueError, match='num_heads=4 does not divide'):
    partitioning.check_heads(FourHeads(), Mesh())


def test_logical_axes_of_layers_adapters_and_norms():
  shapes = {'layers_0': {
      'self_attention': {'query': {'kernel': jax.ShapeDtypeStruct((64, 32), np.float32),
                                   'lora_a': jax.ShapeDtypeStruct((64, 4), np.float32),
                                   'lora_b': jax.ShapeDtypeStruct((4, 32), np.float32)},
                         'out': {'kernel': jax.ShapeDtypeStruct((32, 64), np.float32)}},
      'mlp': {'wi_0': {'kernel': jax.ShapeDtypeStruct((64, 128), np.float32)}},
      'mlp_norm': {'scale': jax.ShapeDtypeStruct((64,), np.float32)}}}
  axes = partitioning.logical_axes(shapes)['layers_0']
  assert axes['self_attention']['query'] == {'kernel': ('embed', 'heads'),
                                             'lora_a': ('embed', None),
                                             'lora_b': (None, 'heads')}
  assert axes['self_attention']['out']['kernel'] == ('heads', 'embed')
  assert axes['mlp']['wi_0']['kernel'] == ('embed', 'mlp')
  assert axes['mlp_norm']['scale'] == (None,)  # norm scales stay replicated


def test_adafactor_factored_statistics_follow_their_parameter():
  spec, shape = P('fsdp', 'tensor'), (256, 512)
  assert state._follow(spec, shape, (256, 512)) == P('fsdp', 'tensor')   # a moment
  assert state._follow(spec, shape, (256,)) == P('fsdp')                 # v_row
  assert state._follow(spec, shape, (512,)) == P('tensor')               # v_col
  assert state._follow(spec, shape, (1,)) == P()                         # placeholder
