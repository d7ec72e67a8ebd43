"""Damaged checkpoint data is an error naming the step (or, when asked, skipped for the newest
intact step); checkpoints without a manifest still restore; non-finite states are never saved;
manifests of sharded arrays still check a restore onto another layout; and each host of a
two-process run writes and checks its own shards."""
import glob
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from train_states import assert_same as _assert_same, train_state

from lm_jax.train import loop
from lm_jax.train.run_dir import CheckpointError, NonFiniteStateError, RunDir, integrity

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
# Large enough that the largest data file holds the kernel's values (and the flipped bytes land
# in them, not in a header orbax would reject anyway).
PARAMS = {'dense': {'kernel': jax.random.normal(jax.random.key(0), (64, 64)),
                    'bias': jnp.ones((64,))}}


def _state(step):
  return train_state(PARAMS, step, scale=step)


def _checkpointer(path, **kwargs):
  return RunDir(str(path)).checkpointer(**kwargs)


def _flip_bytes(item_dir) -> None:
  """What the issue saw restore silently: bytes flipped inside the largest array data file."""
  files = [f for f in glob.glob(f'{item_dir}/ocdbt.process_0/d/*') if os.path.isfile(f)]
  largest = max(files, key=os.path.getsize)
  with open(largest, 'r+b') as f:
    data = bytearray(f.read())
    middle = len(data) // 2
    data[middle:middle + 8] = bytes(b ^ 0xFF for b in data[middle:middle + 8])
    f.seek(0)
    f.write(data)


def _save(workdir, steps):
  saver = _checkpointer(workdir, every_steps=1, keep=3)
  for step in steps:
    assert saver.maybe_save(step, _state(step), {'index': step})
  saver.wait()
  saver.close()


def test_damaged_data_is_an_error_naming_the_step_and_the_earlier_one(tmp_path):
  _save(tmp_path, (1, 2))
  _flip_bytes(tmp_path / 'checkpoints' / '2' / 'state')
  # Without the manifest the damage goes unnoticed: orbax restores other values, no error.
  plain = ocp.CheckpointManager(tmp_path / 'checkpoints',
                                options=ocp.CheckpointManagerOptions(read_only=True))
  unchecked = plain.restore(2, args=ocp.args.Composite(state=ocp.args.StandardRestore(_state(0))))
  assert not np.array_equal(unchecked['state'].params['dense']['kernel'],
                            _state(2).params['dense']['kernel'])
  plain.close()

  reader = _checkpointer(tmp_path, every_steps=1, keep=3)
  with pytest.raises(CheckpointError) as error:
    reader.restore_latest(_state(0))
  message = str(error.value)
  assert 'checkpoint step 2' in message and 'corrupt' in message
  assert 'params/dense/kernel does not match the hash written at save' in message
  assert 'Resume from step 1 with --config.restore_fallback=true' in message
  assert os.path.join(str(tmp_path), 'checkpoints', '2') in message
  assert reader.latest_step() == 2  # nothing is deleted without the fallback
  reader.close()

  # The params-only readers (eval mode, init_from) check the params against the same manifest.
  with pytest.raises(CheckpointError, match=r'params/dense/kernel(.|\n)*Delete .*2 '
                                                        r'to use step 1'):
    RunDir(str(tmp_path)).read_params()
  _assert_same(RunDir(str(tmp_path)).read_params(step=1)[0], _state(1).params)


def test_fallback_restores_the_newest_intact_step_and_says_so(tmp_path, capsys):
  _save(tmp_path, (1, 2, 3))
  for step in (2, 3):
    _flip_bytes(tmp_path / 'checkpoints' / str(step) / 'state')
  reader = _checkpointer(tmp_path, every_steps=1, keep=3, restore_fallback=True)
  restored = reader.restore_latest(_state(0))
  assert restored.step == 1 and restored.data_state == {'index': 1}
  _assert_same(restored.state, _state(1))
  printed = capsys.readouterr().out
  for step in (3, 2):
    assert f'Skipping checkpoint step {step}' in printed
  assert 'params/dense/kernel does not match the hash written at save' in printed
  assert 'deleted the skipped step(s) 3, 2' in printed
  # The resumed run saves those steps anew: the damaged ones are gone, not in its way.
  assert reader.latest_step() == 1
  assert reader.maybe_save(2, _state(2), {'index': 2})
  reader.wait()
  assert reader.restore_latest(_state(0)).step == 2
  reader.close()


def test_fallback_with_no_intact_step_is_an_error(tmp_path):
  _save(tmp_path, (1,))
  _flip_bytes(tmp_path / 'checkpoints' / '1' / 'state')
  reader = _checkpointer(tmp_path, every_steps=1, keep=3, restore_fallback=True)
  with pytest.raises(CheckpointError, match='No checkpoint .* could be restored'):
    reader.restore_latest(_state(0))
  assert reader.latest_step() == 1  # nothing deleted when nothing could be restored
  reader.close()


def test_training_resumes_from_the_newest_intact_step_only_when_asked(tiny_config, tmp_path,
                                                                     capsys):
  tiny_config.update(num_train_steps=4, checkpoint_every_steps=2, eval_every_steps=100,
                     num_samples=0)
  workdir = str(tmp_path / 'run')
  loop.train_and_evaluate(tiny_config, workdir)
  _flip_bytes(f'{workdir}/checkpoints/4/state')
  tiny_config.num_train_steps = 6
  with pytest.raises(CheckpointError,
                     match=r'step 4(.|\n)*Resume from step 2 with --config.restore_fallback=true'):
    loop.train_and_evaluate(tiny_config, workdir)
  capsys.readouterr()
  tiny_config.restore_fallback = True
  loop.train_and_evaluate(tiny_config, workdir)
  printed = capsys.readouterr().out
  assert 'Skipping checkpoint step 4' in printed and 'at step 2.' in printed
  assert RunDir(workdir).read_params()[1] == 6
  RunDir(workdir).read_params(step=4)  # saved again by the resumed run, intact


def test_checkpoint_without_a_manifest_still_restores_with_a_warning(tmp_path, capsys):
  # What the Checkpointer wrote before manifests existed.
  old = ocp.CheckpointManager(tmp_path / 'checkpoints',
                              options=ocp.CheckpointManagerOptions(create=True),
                              item_handlers={'state': ocp.StandardCheckpointHandler(),
                                             'data': ocp.JsonCheckpointHandler()})
  old.save(4, args=ocp.args.Composite(state=ocp.args.StandardSave(_state(4)),
                                      data=ocp.args.JsonSave({'index': 4})))
  old.wait_until_finished()
  old.close()
  reader = _checkpointer(tmp_path, every_steps=1, keep=3)
  restored = reader.restore_latest(_state(0))
  assert restored.step == 4 and restored.extra == {}
  _assert_same(restored.state, _state(4))
  reader.close()
  _assert_same(RunDir(str(tmp_path)).read_params()[0], _state(4).params)
  assert 'has no integrity manifest' in capsys.readouterr().out


def test_best_checkpoint_is_checked_too(tmp_path, capsys):
  best = RunDir(str(tmp_path)).best()
  best.save(5, PARAMS, {'step': 5, 'metric': 'accuracy', 'value': 0.5})
  best.wait()
  _assert_same(best.restore_params(PARAMS)[0], PARAMS)
  _flip_bytes(tmp_path / 'checkpoints_best' / '5' / 'params')
  with pytest.raises(CheckpointError,
                     match=r'best checkpoint \(step 5\).*corrupt: array dense/kernel'):
    best.restore_params(PARAMS)
  best.close()


def test_a_nonfinite_state_is_never_saved(tmp_path):
  saver = _checkpointer(tmp_path, every_steps=1, keep=3)
  state = _state(1)
  mu = state.opt_state[0].mu
  bad_mu = {'dense': {**mu['dense'], 'bias': mu['dense']['bias'].at[3].set(jnp.inf)}}
  bad = state.replace(opt_state=(state.opt_state[0]._replace(mu=bad_mu), *state.opt_state[1:]))
  with pytest.raises(NonFiniteStateError,
                     match=r'step 1 .*opt_state/0/mu/dense/bias holds NaN or Inf'):
    saver.maybe_save(1, bad, {'index': 1})
  saver.wait()
  assert saver.latest_step() is None and os.listdir(tmp_path / 'checkpoints') == []
  best = RunDir(str(tmp_path)).best()
  nan_params = {'dense': {**PARAMS['dense'], 'kernel': PARAMS['dense']['kernel'] * jnp.nan}}
  with pytest.raises(NonFiniteStateError, match='dense/kernel'):
    best.save(1, nan_params, {'step': 1})
  best.wait()
  assert best.restore_params(PARAMS) is None
  best.close()
  saver.close()


def test_first_nonfinite_ignores_integer_leaves_and_finds_bfloat16():
  tree = {'a': jnp.arange(3), 'b': jnp.ones(2, jnp.bfloat16), 'c': jnp.zeros(())}
  assert integrity.first_nonfinite(tree) is None
  tree['b'] = tree['b'].at[1].set(jnp.nan)
  assert integrity.first_nonfinite(tree) == 'b'


# One process of 4 CPU devices stands in for hosts: `_held_whole` is narrowed so that sharded
# arrays are hashed shard by shard, as an array spread over hosts is.
_SHARDED = '''
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from lm_jax.train.run_dir import integrity
integrity._held_whole = lambda x: not isinstance(x, jax.Array) or x.is_fully_replicated
mesh = Mesh(np.array(jax.devices()).reshape(2, 2), ('a', 'b'))
put = lambda x, *spec: jax.device_put(x, NamedSharding(mesh, P(*spec)))
values = jnp.arange(64.0).reshape(8, 8)
saved = integrity._merge([integrity.manifest({'w': put(values, 'a', 'b')})])
assert sorted(saved['arrays']['w']['regions']) == [
    '[0:4, 0:4]', '[0:4, 4:8]', '[4:8, 0:4]', '[4:8, 4:8]'], saved
# The same values on another layout: the same layout, replicated, or coarser shards.
for spec in (('a', 'b'), (), ('a',), (None, 'b')):
  assert integrity.verify({'w': put(values, *spec)}, saved) == [], spec
damaged = values.at[5, 1].set(-1.0)
for spec in (('a', 'b'), ()):
  try:
    integrity.verify({'w': put(damaged, *spec)}, saved)
    raise AssertionError(f'damage not found on layout {spec}')
  except integrity.IntegrityError as e:
    assert 'array w[4:8, 0:4] does not match' in str(e), e
print('ok')
'''


def test_sharded_arrays_are_hashed_per_shard_and_checked_on_another_layout():
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=4',
             JAX_PLATFORMS='cpu')
  out = subprocess.run([sys.executable, '-c', _SHARDED], env=env, cwd=REPO, capture_output=True,
                       text=True)
  assert out.returncode == 0 and out.stdout.strip().endswith('ok'), out.stderr[-3000:]


# Two processes of two CPU devices each: the replicated array is hashed by process 0 alone, the
# one split over all four devices by each host for its shards, into its own file.
_TWO_HOSTS = '''
import os, sys
import jax
jax.config.update('jax_cpu_collectives_implementation', 'gloo')
jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                           process_id=int(sys.argv[2]))
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from lm_jax.train.run_dir import CheckpointError, RunDir
mesh = Mesh(np.array(jax.devices()), ('d',))
layouts = {'replicated': NamedSharding(mesh, P()), 'split': NamedSharding(mesh, P('d'))}
# Random bits do not compress, so orbax stores them verbatim: the damaged row below is found in
# the data file, and the file still decodes, to other values that only the hash tells apart.
def values(step, name):
  seed = step * 10 + list(layouts).index(name)
  return np.random.default_rng(seed).integers(0, 2**32, (64, 64), dtype=np.uint32)
def state(step):
  return {name: jax.make_array_from_callback((64, 64), sharding,
                                             lambda i, name=name: values(step, name)[i])
          for name, sharding in layouts.items()}
abstract = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=v.sharding)
            for k, v in state(0).items()}
workdir = sys.argv[3]
saver = RunDir(workdir).checkpointer(every_steps=1, keep=3)
for step in (1, 2):
  saver.maybe_save(step, state(step), {'index': step})
saver.wait()
print('files', sorted(f for f in os.listdir(f'{workdir}/checkpoints/2/integrity')
                     if f.startswith('integrity')))
if jax.process_index() == 1:  # damage what host 1 wrote: a row of its shards of `split`
  data_dir = f'{workdir}/checkpoints/2/state/ocdbt.process_1/d'
  row = values(2, 'split')[40].tobytes()
  for name in os.listdir(data_dir):
    with open(os.path.join(data_dir, name), 'r+b') as f:
      at = f.read().find(row)
      if at >= 0:
        f.seek(at + 4)
        f.write(b'\\x00' * 8)
        break
  else:
    raise AssertionError('row 40 of split not found in the data files of process 1')
multihost_utils.sync_global_devices('damaged')
try:
  saver.restore_latest(abstract)
except CheckpointError as e:
  print('error', str(e).splitlines()[0])
saver.restore_fallback = True
restored = saver.restore_latest(abstract)
same = all(np.array_equal(np.asarray(a.data), np.asarray(b.data))
           for name in layouts for a, b in zip(restored.state[name].addressable_shards,
                                               state(1)[name].addressable_shards))
print('restored', restored.step, same)
saver.close()
'''


def test_each_host_writes_and_checks_its_own_shards(tmp_path):
  with socket.socket() as s:
    s.bind(('localhost', 0))
    port = s.getsockname()[1]
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=2',
             JAX_PLATFORMS='cpu')
  # Logs to files, not pipes: a process blocked on a full pipe stalls the other at a barrier.
  logs = [tmp_path / f'process_{index}.log' for index in range(2)]
  running = []
  for index, log in enumerate(logs):
    with open(log, 'w') as f:
      running.append(subprocess.Popen(
          [sys.executable, '-c', _TWO_HOSTS, f'localhost:{port}', str(index), str(tmp_path)],
          env=env, cwd=REPO, stdout=f, stderr=subprocess.STDOUT))
  try:
    for process in running:
      process.wait(timeout=300)
  finally:
    for process in running:
      if process.poll() is None:
        process.kill()
  for index, (process, log) in enumerate(zip(running, logs)):
    out = log.read_text()
    assert process.returncode == 0, f'process {index}:\n{out[-3000:]}'
    lines = [line for line in out.splitlines() if line.startswith(('files', 'error', 'restored'))]
    assert lines[0] == "files ['integrity.process_0.json', 'integrity.process_1.json']", out
    # Host 1 finds the damage; host 0, which holds other shards, hears of it and agrees.
    assert lines[1].startswith('error Could not restore checkpoint step 2'), out
    assert ('split[32:' in lines[1]) if index == 1 else ('another host' in lines[1]), out
    assert lines[2] == 'restored 1 True', out
