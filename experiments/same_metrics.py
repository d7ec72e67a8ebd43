"""Checks that a change leaves training bit-identical: runs each family's `:tiny` config and the
classification `:tiny` fine-tune into `--root`, or compares two such roots' metrics.jsonl, field
for field apart from timing.

  python experiments/same_metrics.py --root=/tmp/before        # on the old commit (a worktree)
  python experiments/same_metrics.py --root=/tmp/after         # on the new one
  python experiments/same_metrics.py --compare /tmp/before /tmp/after

Each run is `python -m lm_jax.main` in a subprocess with the same data dir, so both sides read
the same prepared data and tokenizer. The classification fine-tune needs WordNet (Debian
`wordnet-base`, or $LM_JAX_WORDNET_DIR).
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMING = ('train/tokens_per_s',)
RUNS = {  # name: (config, extra flags; {root} is replaced)
    't5_tiny': ('configs/t5_small.py:tiny', []),
    'gpt2_tiny': ('configs/gpt2_small.py:tiny', []),
    'bert_tiny': ('configs/bert_base.py:tiny', []),
    'transformer_tiny': ('configs/transformer_base.py:tiny', []),
    'classification_tiny': ('configs/finetune_classification.py:tiny',
                            ['--config.init_from={root}/t5_tiny']),
}


def run_all(root: str, data_dir: str, repo: str) -> None:
  for name, (config, extra) in RUNS.items():
    flags = [f'--config={config}', f'--workdir={root}/{name}',
             f'--config.data.data_dir={data_dir}', *(f.format(root=root) for f in extra)]
    print(f'{name}: python -m lm_jax.main {" ".join(flags)}', flush=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, '-m', 'lm_jax.main', *flags], cwd=repo, check=True,
                   stdout=subprocess.DEVNULL)
    print(f'  {time.perf_counter() - start:.0f} s', flush=True)


def _rows(path: str) -> list[dict]:
  with open(path) as f:
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in f]


def compare(before: str, after: str) -> bool:
  same = True
  for name in RUNS:
    a, b = (_rows(os.path.join(root, name, 'metrics.jsonl')) for root in (before, after))
    differing = [(x['step'], k) for x, y in zip(a, b) for k in x if x.get(k) != y.get(k)]
    ok = len(a) == len(b) and not differing and all(x.keys() == y.keys() for x, y in zip(a, b))
    print(f'{name:<22} {len(a):>4} rows  {"identical" if ok else f"DIFFERENT {differing[:5]}"}')
    same &= ok
  return same


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--root', help='run every config into this directory')
  parser.add_argument('--data_dir', default='/tmp/same_metrics_data')
  parser.add_argument('--repo', default=REPO, help='the checkout whose lm_jax runs')
  parser.add_argument('--compare', nargs=2, metavar=('BEFORE', 'AFTER'))
  args = parser.parse_args()
  if args.compare:
    sys.exit(0 if compare(*args.compare) else 1)
  if not args.root:
    parser.error('give --root or --compare')
  run_all(os.path.abspath(args.root), args.data_dir, args.repo)


if __name__ == '__main__':
  main()
