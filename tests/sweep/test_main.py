"""The command line: a bad sweep file is one message naming the point and the key, before any
run directory exists; --dry_run and --emit list the runs without training."""
import os
import subprocess
import sys

from tests.sweep.sweep_files import write_sweep


def _sweep(*flags):
  return subprocess.run([sys.executable, '-m', 'lm_jax.sweep', *flags], capture_output=True,
                        text=True, timeout=300)


def test_bad_file_is_one_message_and_dry_run_lists_points(tmp_path):
  bad = write_sweep(tmp_path, "def points(add):\n  add('ok')\n"
                    "  add('typo', {'optimizer.learning_rat': 0.1})\n", name='bad')
  result = _sweep(f'--sweep={bad}', f'--root={tmp_path / "runs"}')
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert "point 'typo': Unknown config key 'optimizer.learning_rat'" in result.stderr
  assert not os.path.exists(tmp_path / 'runs')  # nothing ran, nothing was created

  good = write_sweep(tmp_path, "def points(add):\n  add('a')\n  add('b', {'model.d_ff': 32})\n",
                     seeds=(0, 1))
  listed = _sweep(f'--sweep={good}', f'--root={tmp_path / "runs"}', '--dry_run')
  assert listed.returncode == 0, listed.stderr
  assert '2 points x 2 seeds [0, 1] = 4 runs' in listed.stdout
  assert "{'model.d_ff': 32}  new, new" in listed.stdout
  assert not os.path.exists(tmp_path / 'runs')
