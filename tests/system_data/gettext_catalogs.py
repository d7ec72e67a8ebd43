"""Compiled gettext catalogs (.mo) and locale directories of them: what django_translations finds
in the Django wheel and system_translations under /usr/share/locale, which a machine may lack."""
import pathlib
import struct

HEADER = b'Content-Type: text/plain; charset=UTF-8\n'  # the catalog's metadata, msgid ''


def write_mo(path, catalog: dict[bytes, bytes]) -> None:
  """A GNU .mo file (the format `msgfmt` writes, gettext(3) documents) holding `catalog`."""
  keys = sorted(catalog)
  header_size, entry = 7 * 4, 2 * 4
  ids_at = header_size
  strs_at = ids_at + len(keys) * entry
  data_at = strs_at + len(keys) * entry
  ids, strs, data = b'', b'', b''
  for table, values in (('ids', keys), ('strs', [catalog[k] for k in keys])):
    for value in values:
      pair = struct.pack('<2I', len(value), data_at + len(data))
      if table == 'ids':
        ids += pair
      else:
        strs += pair
      data += value + b'\0'
  header = struct.pack('<7I', 0x950412de, 0, len(keys), ids_at, strs_at, 0, 0)
  pathlib.Path(path).write_bytes(header + ids + strs + data)


def write_locale(root: str, languages: tuple[str, ...], messages: int = 60) -> str:
  """`root`/<language>/LC_MESSAGES/psql.mo for each language, `messages` translated messages
  each: enough for every split of a hash split to get some (TFDS writes no empty split)."""
  for language in languages:
    directory = pathlib.Path(root) / language / 'LC_MESSAGES'
    directory.mkdir(parents=True, exist_ok=True)
    write_mo(directory / 'psql.mo', {b'': HEADER, **{
        f'Row {i} deleted'.encode(): f'Zeile {i} gelöscht ({language})'.encode()
        for i in range(messages)}})
  return str(root)
