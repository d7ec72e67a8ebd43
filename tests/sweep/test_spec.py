"""Sweep files: points, seeds and references as the runner sees them, and every bad file
rejected with the point and key named before anything runs."""
import pytest

from lm_jax.sweep import SweepError, load_sweep, product, zip_axes
from tests.sweep.sweep_files import write_sweep


def test_points_seeds_and_configs(tmp_path):
  path = write_sweep(tmp_path, '''
      from lm_jax.sweep import product
      METRIC, GOAL = 'eval/token_accuracy', 'max'
      def points(add):
        add('baseline')
        for values in product({'model.feed_forward': ['relu', 'gated-gelu'],
                               'optimizer.learning_rate': [0.01, 0.003]}):
          add(None, values)
      ''', seeds=(3, 4), num_train_steps=6)
  sweep = load_sweep(path, root=str(tmp_path / 'runs'))
  assert sweep.points == ['baseline', 'feed_forward=relu,learning_rate=0.01',
                          'feed_forward=relu,learning_rate=0.003',
                          'feed_forward=gated-gelu,learning_rate=0.01',
                          'feed_forward=gated-gelu,learning_rate=0.003']
  assert len(sweep.runs) == 10 and sweep.swept_keys == ['model.feed_forward',
                                                        'optimizer.learning_rate']
  run = sweep.run('feed_forward=gated-gelu,learning_rate=0.003', 4)
  config = sweep.config(run, str(tmp_path / 'runs'))
  assert (config.model.feed_forward, config.optimizer.learning_rate, config.seed,
          config.num_train_steps) == ('gated-gelu', 0.003, 4, 6)
  assert sweep.workdir('runs', run) == ('runs/demo/feed_forward=gated-gelu,learning_rate=0.003/'
                                        'seed_4')
  assert (sweep.metric, sweep.goal) == ('eval/token_accuracy', 'max')


def test_init_from_a_point_runs_after_it_and_reads_its_workdir(tmp_path):
  path = write_sweep(tmp_path, '''
      def points(add):
        add('finetune', {'init_from': '@pretrain', 'finetune.mode': 'frozen'})
        add('pretrain')
      ''', seeds=(0, 1))
  sweep = load_sweep(path, root='/r')
  assert [run.name for run in sweep.runs] == ['pretrain/seed_0', 'pretrain/seed_1',
                                              'finetune/seed_0', 'finetune/seed_1']
  assert sweep.config(sweep.run('finetune', 1), '/r').init_from == '/r/demo/pretrain/seed_1'


def test_product_and_zip():
  assert zip_axes({'a': [1, 2], 'b': ['x', 'y']}) == [{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'y'}]
  assert len(product({'a': [1, 2], 'b': [3, 4, 5]})) == 6
  with pytest.raises(SweepError, match="Axis 'b' has no values"):
    product({'a': [1], 'b': []})
  with pytest.raises(SweepError, match='equally long'):
    zip_axes({'a': [1, 2], 'b': [1]})


@pytest.mark.parametrize('body, message', [
    ("def points(add):\n  add('ok')\n  add('typo', {'optimizer.learning_rat': 0.1})\n",
     r"point 'typo': Unknown config key 'optimizer.learning_rat'. Did you mean "
     r"'optimizer.learning_rate'"),
    ("def points(add):\n  add('bad', {'model.feed_forward': 'swish'})\n",
     r"point 'bad': config.model.feed_forward must be one of"),
    ("def points(add):\n  add('bad', {'num_train_steps': 'many'})\n", r"point 'bad': "),
    ("from lm_jax.sweep import product\n"
     "def points(add):\n  for v in product({'model.d_ff': []}):\n    add(None, v)\n",
     r"Axis 'model.d_ff' has no values"),
    ("def points(add):\n  pass\n", r'added no point'),
    ("def points(add):\n  add('a')\n  add('a', {'model.d_ff': 8})\n",
     r"two points are named 'a'"),
    ("def points(add):\n  add('a b')\n", r"point name 'a b'"),
    ("def points(add):\n  add('a', {'seed': 3})\n", r"point 'a' sets seed"),
    ("SEED = (1, 2)\ndef points(add):\n  add('a')\n", r'sets SEED, which sweeps do not read'),
    ("def points(add):\n  add('a', {'init_from': '@nope'})\n", r"no point 'nope'"),
    ("def points(add):\n  add('a', {'init_from': '@b'})\n  add('b', {'init_from': '@a'})\n",
     r'in a cycle'),
    ("GOAL = 'lowest'\ndef points(add):\n  add('a')\n", r'GOAL must be one of'),
    ("def points(add):\n  add('a', evaluate={'eval.splt': 'test'})\n",
     r"point 'a': Unknown config key 'eval.splt'"),
    ("def points(add):\n  add('a', evaluate={'eval.decontaminate_against': 'stdlib_docs'})\n",
     r"point 'a': Config key 'eval.decontaminate_against' = 'stdlib_docs': must name"),
    ("def points(add):\n  add('a', evaluate='test')\n", r"point 'a' has evaluate='test'"),
])
def test_bad_sweep_files_are_rejected_naming_the_point_and_key(tmp_path, body, message):
  with pytest.raises(SweepError, match=message):
    load_sweep(write_sweep(tmp_path, body))


def test_a_missing_base_or_file_is_named(tmp_path):
  with pytest.raises(SweepError, match='No sweep file'):
    load_sweep(str(tmp_path / 'nothing.py'))
  path = tmp_path / 'nobase.py'
  path.write_text("def points(add):\n  add('a')\n")
  with pytest.raises(SweepError, match='has no BASE'):
    load_sweep(str(path))


def test_the_shipped_sweeps_load():
  sweep = load_sweep('configs/sweeps/t5_tiny_ablations.py')
  assert len(sweep.runs) == 14 and sweep.seeds == (0, 1)
  # One factor at a time: every point but the baseline changes exactly one key.
  assert [len(sweep.run(p, 0).overrides) for p in sweep.points] == [0] + [1] * 6


def test_the_shipped_finetuning_sweep_chains_its_points_and_scores_them_on_test():
  sweep = load_sweep('configs/sweeps/finetune_tasks.py')
  order = [run.point for run in sweep.runs]
  assert order.index('qa') < order.index('translation')
  assert sweep.run('translation', 0).depends_on == 'qa'
  scored = [p for p in sweep.points if sweep.run(p, 0).evaluate is not None]
  assert scored == [p for p in sweep.points if not p.startswith('pretrain_')] and len(scored) == 5
  config = sweep.eval_config(sweep.run('qa', 0), 'runs')
  assert (config.mode, config.eval.split, config.eval.checkpoint) == ('eval', 'test', 'best')
  assert config.eval.baseline and config.eval.decontaminate_against == 'stdlib_docs:text'
