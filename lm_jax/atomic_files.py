"""Files written whole or not at all: a temporary file, then a rename (atomic on POSIX), so a
kill, another host, or a reader in another process never sees half a file."""
import json
import os
from typing import Callable


def replace_file(path: str, write: Callable[[str], None]) -> None:
  """Calls `write(tmp)` to fill a temporary path beside `path`, then renames it to `path`."""
  tmp = f'{path}.tmp.{os.getpid()}'
  try:
    write(tmp)
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_bytes(path: str, data: bytes) -> None:
  def write(tmp):
    with open(tmp, 'wb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())  # on disk before the rename makes it the file
  replace_file(path, write)


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode('utf-8'))


def write_json(path: str, value, **dump_args) -> None:
  write_text(path, json.dumps(value, **{'indent': 2, **dump_args}) + '\n')
