"""The decoding table of docs/benchmarks.md: lm_jax's cached `generate` against transformers'
`generate` (PyTorch) on the same weights, for T5-small and GPT-2 small, greedy and beam 4, each
case one run of decode_throughput.py --hf (in its own process, one after another).

  python experiments/benchmarks/decode_table.py [--runs=3] [--out=decode_table.md]

Prints the markdown table (and writes it to --out when given); the numbers are the runs' own.
"""
import json
import os
import subprocess
import sys

from absl import app, flags

_RUNS = flags.DEFINE_integer('runs', 3, 'Timed calls per implementation (median reported).')
_OUT = flags.DEFINE_string('out', None, 'Also write the table to this file.')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# (label, config, strategy, batch, prompt length, new tokens): the shapes issue 22 names.
CASES = (
    ('T5-small, greedy', 't5_small.py', 'greedy', 8, 128, 64),
    ('T5-small, beam 4', 't5_small.py', 'beam', 4, 128, 32),
    ('GPT-2 small, greedy', 'gpt2_small.py', 'greedy', 8, 64, 64),
    ('GPT-2 small, beam 4', 'gpt2_small.py', 'beam', 4, 64, 32),
)


def run_case(config, strategy, batch, prompt_length, new_tokens) -> dict:
  command = [sys.executable, os.path.join(HERE, 'decode_throughput.py'),
             f'--config={os.path.join(REPO, "configs", config)}', f'--strategy={strategy}',
             f'--batch={batch}', f'--prompt_length={prompt_length}',
             f'--max_new_tokens={new_tokens}', '--num_beams=4', '--hf', '--nouncached',
             f'--runs={_RUNS.value}']
  out = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  if out.returncode:
    raise RuntimeError(f'{" ".join(command)} failed:\n{out.stderr[-3000:]}')
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
  del argv
  lines = ['| model, strategy | batch | prompt → new | lm_jax tokens/s | transformers tokens/s '
           '| ratio | rows with the same tokens |', '|---|---|---|---|---|---|---|']
  device = threads = None
  for label, *case in CASES:
    r = run_case(*case)
    device, threads = r['device'], r['torch_threads']
    lines.append(f'| {label} | {r["batch"]} | {r["prompt_length"]} → {r["max_new_tokens"]} '
                 f'| {r["cached_tokens_per_s"]:.1f} | {r["hf_tokens_per_s"]:.1f} '
                 f'| {r["vs_hf"]:.2f}x | {r["same_tokens_rows"]} of {r["batch"]} |')
    print(lines[-1], flush=True)
  table = (f'{device}, float32, PyTorch on {threads} threads; median of {_RUNS.value} calls '
           'after a warm-up, no EOS\n\n' + '\n'.join(lines) + '\n')
  print('\n' + table)
  if _OUT.value:
    with open(_OUT.value, 'w') as f:
      f.write(table)


if __name__ == '__main__':
  app.run(main)
