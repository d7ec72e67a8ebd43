import json
import os
import platform
import subprocess
import sys

from lm_jax.data.builders import stdlib_corpus

# Runs in a fresh interpreter: another test may import TensorFlow-aware code.
_PREPARE = """
import json, sys
from lm_jax.data.builders import stdlib_docs
builder = stdlib_docs.prepare(sys.argv[1])
sources = builder.as_data_source()
print(json.dumps({
    'lengths': {split: len(source) for split, source in sources.items()},
    'validation': sorted(x['text'].decode('utf-8') for x in sources['validation']),
    'description': builder.info.description,
    'file_format': builder.info.file_format.value,
    'tensorflow_imported': 'tensorflow' in sys.modules,
}))
"""


def test_prepares_offline_as_array_record_without_tensorflow(tmp_path):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__)))))
  result = subprocess.run([sys.executable, '-c', _PREPARE, str(tmp_path)], cwd=root,
                          capture_output=True, text=True, check=True, timeout=120)
  out = json.loads(result.stdout.strip().splitlines()[-1])
  validation = stdlib_corpus.documents('validation')
  assert out['lengths'] == {'train': len(stdlib_corpus.documents('train')),
                            'validation': len(validation)}
  assert out['validation'] == sorted(text for _, text in validation)
  assert out['file_format'] == 'array_record'
  assert not out['tensorflow_imported']
  assert platform.python_version() in out['description']
  files = os.listdir(tmp_path / 'stdlib_docs' / '1.0.0')
  assert any('train.array_record' in f for f in files)
