"""Every `python -m lm_jax.main` command the README, docs/ and the config files document parses:
its config file and variant load, each --config.<key> override names a real key with a value of
the right type, the other flags exist, and the result passes the schema's start-up checks."""
import glob
import os
import re
import shlex

import pytest
from absl import flags
from ml_collections import config_flags

from lm_jax.config import schema

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ['README.md', *sorted(glob.glob('docs/*.md', root_dir=REPO)),
           *sorted(glob.glob('configs/*.py', root_dir=REPO))]
_START = re.compile(r'(?:^|&& )(python -m lm_jax\.main .*)$')


def documented_commands() -> list[tuple[str, str]]:
  """(where, command) for each documented command, continuation lines joined."""
  found = []
  for source in SOURCES:
    lines = open(os.path.join(REPO, source)).read().splitlines()
    for number, line in enumerate(lines):
      match = _START.search(line.strip())
      if not match:
        continue
      command, i = match.group(1), number
      while command.rstrip().endswith('\\'):
        i += 1
        command = command.rstrip()[:-1] + ' ' + lines[i].strip()
      found.append((f'{source}:{number + 1}', command))
  return found


COMMANDS = documented_commands()


def _parse(command: str):
  # Placeholders such as <a pretrained T5 workdir> stand for a path the reader supplies.
  argv = ['lm_jax.main', *shlex.split(re.sub(r'<[^>]*>', 'PLACEHOLDER', command),
                                      comments=True)[3:]]
  values = flags.FlagValues()
  # Overrides are read from sys_argv, as lm_jax.main reads them from sys.argv.
  config_flags.DEFINE_config_file('config', None, 'config', flag_values=values, sys_argv=argv)
  for name in ('workdir', 'coordinator_address'):
    flags.DEFINE_string(name, None, name, flag_values=values)
  flags.DEFINE_multi_string('prompt', [], 'prompt', flag_values=values)
  flags.DEFINE_bool('multihost', False, 'multihost', flag_values=values)
  for name in ('num_processes', 'process_id'):
    flags.DEFINE_integer(name, None, name, flag_values=values)
  values(argv)
  return values.config


def test_the_docs_document_commands():
  assert len(COMMANDS) >= 20, COMMANDS


@pytest.mark.parametrize('where, command', COMMANDS, ids=[where for where, _ in COMMANDS])
def test_documented_command_parses(where, command, monkeypatch):
  monkeypatch.chdir(REPO)
  config = _parse(command)
  schema.validate_config(config)


@pytest.mark.parametrize('bad', ['--config.optimizer.learning_rat=0.1',
                                 '--config.num_train_steps=many', '--workdirr=x'])
def test_the_check_catches_a_wrong_command(bad, monkeypatch):
  monkeypatch.chdir(REPO)
  with pytest.raises(Exception):
    _parse(f'python -m lm_jax.main --config=configs/t5_small.py:tiny {bad}')
