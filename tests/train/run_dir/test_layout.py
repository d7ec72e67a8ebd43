"""RunDir: what a training run records (format version, config, tokenizer copy), reading older and
refusing newer formats, and refusing a config or tokenizer that cannot use the run's
checkpoints."""
import json
import os

import jax.numpy as jnp
import pytest
from train_states import train_state

from lm_jax.config.schema import default_config, load_config
from lm_jax.train.run_dir import FORMAT_VERSION, CheckpointError, RunDir, RunFormatError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
PARAMS = {'dense': {'kernel': jnp.ones((2, 3))}}


def _trained(path, config, tokenizer=None) -> RunDir:
  """A run directory as a training run leaves it: its record and one checkpoint."""
  run = RunDir(str(path))
  run.record(config, tokenizer)
  saver = run.checkpointer(every_steps=1, keep=1)
  saver.maybe_save(1, train_state(PARAMS, 1), {'index': 1})
  saver.wait()
  saver.close()
  return run


def _check(run: RunDir, config, training: bool, tokenizer=None) -> None:
  """check_compatible as the trainer calls it, with the run's checkpointer open."""
  checkpointer = run.checkpointer(every_steps=1, keep=1, writer=False)
  try:
    run.check_compatible(config, checkpointer, training, tokenizer)
  finally:
    checkpointer.close()


def _tokenizer(path, content: bytes) -> str:
  path.write_bytes(content)
  return str(path)


def test_a_training_run_records_its_format_config_and_tokenizer(tmp_path):
  config = default_config()
  tokenizer = _tokenizer(tmp_path / 'sp.model', b'sentencepiece bytes')
  run = RunDir(str(tmp_path / 'run'))
  assert run.format_version is None and run.saved_config() is None
  _trained(tmp_path / 'run', config, tokenizer)

  reopened = RunDir(str(tmp_path / 'run'))
  assert reopened.format_version == FORMAT_VERSION == 3
  assert not reopened.trains_adapters() and reopened.adapter_base() is None
  with open(reopened.format_file) as f:
    assert json.load(f) == {'format_version': FORMAT_VERSION}
  assert reopened.saved_config() == json.loads(config.to_json_best_effort())
  # The copy is what later readers use: the original may live in a data dir that is gone.
  assert reopened.own_tokenizer() == reopened.tokenizer_path() == reopened.tokenizer_file
  with open(reopened.tokenizer_file, 'rb') as f:
    assert f.read() == b'sentencepiece bytes'
  assert RunDir.holds_run(reopened.path)
  assert reopened.read_params()[1] == 1 and reopened.latest_step() == 1
  assert not os.path.exists(reopened.best_dir)  # opened only when early stopping keeps one


def test_an_adapter_run_records_its_base(tmp_path):
  run = RunDir(str(tmp_path / 'run'))
  base = {'init_from': '/runs/base', 'description': 'a base', 'fingerprint': 'ab' * 32}
  config = default_config()
  config.peft.method = 'lora'
  run.record(config, None, adapter_base=base)
  reopened = RunDir(run.path)
  assert reopened.format_version == FORMAT_VERSION and reopened.trains_adapters()
  assert reopened.adapter_base() == base
  os.remove(reopened.adapter_base_file)
  with pytest.raises(RunFormatError, match='adapter run .* its frozen base is unknown'):
    RunDir(run.path).adapter_base()


def test_a_run_from_before_format_versions_reads_as_format_0(tmp_path):
  config = default_config()
  config.data.tokenizer_path = '/data/sp.model'
  run = _trained(tmp_path, config)
  os.remove(run.format_file)  # as code before lm_jax_run.json left a run
  old = RunDir(str(tmp_path))
  assert old.format_version == 0 and old.own_tokenizer() is None
  assert old.tokenizer_path() == '/data/sp.model'  # where its config says
  assert old.read_params()[1] == 1


@pytest.mark.parametrize('content, message', [
    ({'format_version': FORMAT_VERSION + 1}, f'format {FORMAT_VERSION + 1}, written by a newer '
                                             f'lm_jax; this one reads formats up to '
                                             f'{FORMAT_VERSION}. Update lm_jax'),
    ({'version': 1}, 'unreadable .*KeyError'),
    ('{"format_version": "one"', 'unreadable .*JSONDecodeError'),
])
def test_a_newer_or_unreadable_format_is_refused_on_opening(tmp_path, content, message):
  _trained(tmp_path, default_config())
  with open(tmp_path / 'lm_jax_run.json', 'w') as f:
    f.write(content if isinstance(content, str) else json.dumps(content))
  with pytest.raises(RunFormatError, match=message):
    RunDir(str(tmp_path))


def test_a_hugging_face_directory_or_an_empty_one_holds_no_run(tmp_path):
  (tmp_path / 'config.json').write_text(json.dumps({'model_type': 't5'}))
  assert not RunDir.holds_run(str(tmp_path))
  assert not RunDir.holds_run(str(tmp_path / 'missing'))


@pytest.mark.parametrize('key, value', [('finetune.mode', 'frozen'), ('data.task', 'python_faq')])
def test_resuming_with_another_task_or_finetune_mode_is_refused(tmp_path, key, value):
  config = default_config()
  run = _trained(tmp_path, config)
  _check(run, config, training=True)
  section, leaf = key.split('.')
  config[section][leaf] = value
  with pytest.raises(CheckpointError, match=key):
    _check(run, config, training=True)


def test_a_run_recorded_before_a_config_section_existed_resumes(tmp_path):
  """Runs trained before config.peft existed resume as runs of its default (no adapters)."""
  config = default_config()
  run = _trained(tmp_path, config)
  saved = run.saved_config()
  del saved['peft']
  with open(run.config_file, 'w') as f:
    json.dump(saved, f)
  _check(run, config, training=True)
  config.peft.method = 'lora'
  with pytest.raises(CheckpointError, match='peft'):
    _check(run, config, training=True)


def test_a_run_recorded_before_a_config_key_existed_resumes(tmp_path):
  """A LoRA run recorded before prefix tuning's keys existed resumes with their defaults, and
  only with them."""
  config = default_config()
  config.peft.method = 'lora'
  run = _trained(tmp_path, config)
  saved = run.saved_config()
  del saved['peft']['num_virtual_tokens']
  with open(run.config_file, 'w') as f:
    json.dump(saved, f)
  _check(run, config, training=True)
  config.peft.num_virtual_tokens = 5
  with pytest.raises(CheckpointError, match='num_virtual_tokens'):
    _check(run, config, training=True)


def test_reading_a_checkpoint_checks_only_the_model(tmp_path):
  config = default_config()
  config.finetune.mode = 'frozen'
  run = _trained(tmp_path, config)
  config.finetune.mode = 'full'
  _check(run, config, training=False)  # eval mode reads the parameters alone
  config.model.d_model = 7
  with pytest.raises(CheckpointError, match='model'):
    _check(run, config, training=False)


def test_resuming_with_another_tokenizer_is_refused(tmp_path):
  config = default_config()
  run = _trained(tmp_path / 'run', config, _tokenizer(tmp_path / 'a.model', b'one vocabulary'))
  _check(run, config, True, _tokenizer(tmp_path / 'same.model', b'one vocabulary'))
  other = _tokenizer(tmp_path / 'b.model', b'another vocabulary')
  with pytest.raises(CheckpointError, match=f'differs(.|\n)*tokenizer_path={run.tokenizer_file}'):
    _check(run, config, True, other)
  _check(run, config, False, other)  # eval mode uses the run's own copy


def test_a_model_default_named_explicitly_is_the_same_model(tmp_path):
  config = load_config(os.path.join(ROOT, 'configs', 'gpt2_small.py:tiny'))
  run = _trained(tmp_path, config)
  saved = run.saved_config()
  del saved['model']['attention_impl']  # as configs/ wrote it before naming the default
  with open(run.config_file, 'w') as f:
    json.dump(saved, f)
  _check(run, config, training=True)
  config.model.remat_policy = 'full'  # recomputes in the backward pass, the same arrays
  _check(run, config, training=True)
  config.model.d_model = 32
  with pytest.raises(CheckpointError, match=r"model=\{'d_model': 64\}, but this run has "
                                            r"model=\{'d_model': 32\}"):
    _check(run, config, training=True)
