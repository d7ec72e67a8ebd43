"""The trivial baselines eval mode reports beside a task's scores, and the clean-subset split."""
from lm_jax.data.tasks.task import Example, single_reference
from lm_jax.evaluation import baselines, held_out, metrics


def _qa(question, context, answer):
  return single_reference(f'question: {question}{baselines.CONTEXT}{context}', answer)


def test_classification_predicts_the_majority_training_class():
  train = [single_reference(f'classify: w{i}', label)
           for i, label in enumerate(['noun', 'verb', 'noun', 'adj', 'noun'])]
  examples = [single_reference('classify: x', 'verb'), single_reference('classify: y', 'noun')]
  name, predictions = baselines.predictions(('accuracy', 'f1'), examples, train)
  assert name == 'majority class (noun)' and predictions == ['noun', 'noun']


def test_translation_copies_the_input_without_its_task_prefix():
  examples = [single_reference('translate English to German: Open file: %s', 'Datei öffnen')]
  name, predictions = baselines.predictions(('bleu', 'chrf'), examples, train=[])
  assert (name, predictions) == ('copy the input', ['Open file: %s'])


def test_qa_picks_the_strongest_candidate_the_lead_entry_here():
  context = 'abs(x): Return the absolute value.\nmax(a, b): Return the largest item.'
  examples = [_qa('What does abs do?', context, 'Return the absolute value.'),
              _qa('What does abs return?', context, 'the absolute value')]
  train = [single_reference('question: what', 'Return a copy.')]
  name, predictions = baselines.predictions(('squad',), examples, train)
  assert name == "the context's first entry"
  assert predictions == ['Return the absolute value.'] * 2
  # It is the best of the candidates by squad_f1, the copy of the question included.
  copied = [e.inputs.split(': ', 1)[1] for e in examples]
  references = [e.references for e in examples]
  assert (metrics.compute(('squad',), predictions, references)['squad_f1'] >
          metrics.compute(('squad',), copied, references)['squad_f1'])


def test_qa_without_context_falls_back_to_one_training_answer_when_copying_scores_nothing():
  train = [single_reference(f'question: q{i}?', answer)
           for i, answer in enumerate(['None', 'an integer', 'None', 'a string'])]
  examples = [single_reference('question: what does f return?', 'None'),
              single_reference('question: what does g give?', 'None')]
  name, predictions = baselines.predictions(('squad',), examples, train)
  assert (name, predictions) == ('one training answer for all', ['None', 'None'])


def test_dirty_flags_mark_examples_sharing_a_13_gram_with_the_corpus():
  shared = 'one two three four five six seven eight nine ten eleven twelve thirteen'
  twelve = shared.rsplit(' ', 1)[0]
  corpus = [f'Intro. {shared.upper()}! and more', f'Summarize: {twelve}.']
  examples = [Example(f'summarize: {shared}', 'short', ('short',)),      # input overlaps
              Example('summarize: other', f'{shared} fourteen', ('x',)),  # target overlaps
              Example(f'summarize: {shared.replace("seven", "7")}', 'x', ('x',)),
              Example(f'summarize: {twelve}', 'x', ('x',))]  # the prefix is not its text
  assert held_out.dirty_flags(corpus, examples) == [True, True, False, False]
