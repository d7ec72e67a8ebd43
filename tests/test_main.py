"""The command line: default workdir, and clear, fast failures for bad input."""
import os
import subprocess
import sys

from lm_jax import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_main(*flags):
  return subprocess.run([sys.executable, '-m', 'lm_jax.main',
                         '--config=configs/t5_small.py:tiny', *flags],
                        cwd=REPO, capture_output=True, text=True, timeout=120)


def test_default_workdir_is_named_after_config_and_variant():
  assert main.default_workdir('configs/t5_small.py:tiny') == os.path.join('runs', 't5_small_tiny')
  assert main.default_workdir('configs/t5_small.py') == os.path.join('runs', 't5_small')


def test_missing_tfds_dataset_fails_at_once_naming_the_alternatives(tmp_path):
  result = _run_main('--config.data.dataset=c4/en', f'--config.data.data_dir={tmp_path}',
                     f'--workdir={tmp_path / "run"}')
  assert result.returncode != 0
  assert '--config.data.dataset=stdlib_docs' in result.stderr
  assert str(tmp_path) in result.stderr
  assert not (tmp_path / 'run' / 'checkpoints').exists() or \
      not os.listdir(tmp_path / 'run' / 'checkpoints')


def test_override_of_a_key_that_does_not_exist_is_one_message_with_the_nearest_keys(tmp_path):
  result = _run_main('--config.optimizer.lerning_rate=0.1', f'--workdir={tmp_path}')
  assert result.returncode != 0
  assert result.stderr.startswith("error: Unknown config key 'optimizer.lerning_rate'. Did you "
                                  "mean 'optimizer.learning_rate'")
  assert 'Traceback' not in result.stderr


def test_a_bad_value_is_one_message_without_a_traceback(tmp_path):
  result = _run_main('--config.num_train_steps=-1', f'--workdir={tmp_path}')
  assert result.returncode != 0 and 'Traceback' not in result.stderr
  assert "error: Config key 'num_train_steps' = -1: must be a positive integer." in result.stderr


def test_unknown_model_key_is_rejected_before_training(tmp_path):
  # Unknown model keys cannot be added with an override (the config is locked), so a config
  # file with a typo stands in: validation must name the key.
  config_file = tmp_path / 'typo.py'
  config_file.write_text(
      'from lm_jax.config.schema import load_config\n'
      f'def get_config(arg=None):\n'
      f'  c = load_config({os.path.join(REPO, "configs/t5_small.py:tiny")!r})\n'
      '  c.model.num_layer = 2\n'
      '  return c\n')
  result = subprocess.run([sys.executable, '-m', 'lm_jax.main', f'--config={config_file}',
                           f'--workdir={tmp_path / "run"}'], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode != 0 and 'num_layer' in result.stderr


def test_a_run_directory_of_a_newer_format_is_one_message_before_any_work(tmp_path):
  (tmp_path / 'lm_jax_run.json').write_text('{"format_version": 99}')
  result = _run_main('--config.mode=eval', f'--workdir={tmp_path}')
  assert result.returncode != 0 and 'Traceback' not in result.stderr
  assert f'error: {tmp_path} is a run directory of format 99, written by a newer lm_jax' in \
      result.stderr
  assert sorted(os.listdir(tmp_path)) == ['lm_jax_run.json']  # nothing was written beside it
