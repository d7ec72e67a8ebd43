"""What the sweep knows of one run: `<workdir>/sweep_status.json`, beside the run's own files.

States: 'finished' (skipped by the next sweep command), 'failed' (with the last lines of its
error; the next command retries it), 'running' (a command is training it, or was killed while it
did; the next command resumes it from its checkpoint). The run's identity (config, overrides,
seed) is stored so that a point whose values changed in the sweep file is not mistaken for the
one that ran. `seconds` adds up the wall time of the commands that trained it.
"""
import json
import os
import time

from lm_jax import atomic_files

FILENAME = 'sweep_status.json'
LOG_FILENAME = 'sweep.log'
ERROR_LINES = 20


def path(workdir: str) -> str:
  return os.path.join(workdir, FILENAME)


def log_path(workdir: str) -> str:
  return os.path.join(workdir, LOG_FILENAME)


def read(workdir: str) -> dict | None:
  try:
    with open(path(workdir)) as f:
      return json.load(f)
  except FileNotFoundError:
    return None
  except ValueError:  # edited by hand into something unreadable: treat the run as unfinished
    return None


def write(workdir: str, state: str, identity: dict, seconds: float, **extra) -> None:
  """A kill leaves the old status or the new one, never half of one."""
  os.makedirs(workdir, exist_ok=True)
  record = {'state': state, 'identity': identity, 'seconds': round(seconds, 1),
            'updated': time.strftime('%Y-%m-%dT%H:%M:%S'), **extra}
  atomic_files.write_json(path(workdir), record, default=str)


def tail(text: str, lines: int = ERROR_LINES) -> str:
  return '\n'.join(text.rstrip().splitlines()[-lines:])


def log_tail(workdir: str, lines: int = ERROR_LINES) -> str:
  try:
    with open(log_path(workdir), errors='replace') as f:
      return tail(f.read(), lines)
  except FileNotFoundError:
    return ''
