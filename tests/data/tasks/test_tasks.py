import os

import pytest

from lm_jax import families
from lm_jax.data import sources
from lm_jax.data import tasks
from lm_jax.data.builders import wordnet_categories
from lm_jax.data.tasks import task as task_lib

# A hand-written record of every registered task, with the example T5's format makes of it.
CASES = {
    'translate_en_de': ({'source': 'Hello', 'target': 'Hallo'},
                        ('translate English to German: Hello', 'Hallo', ('Hallo',))),
    'translate_en_fr': ({'source': 'Yes', 'target': 'Oui'},
                        ('translate English to French: Yes', 'Oui', ('Oui',))),
    'translate_en_es': ({'source': 'Yes', 'target': 'Sí'},
                        ('translate English to Spanish: Yes', 'Sí', ('Sí',))),
    'translate_en_it': ({'source': 'Yes', 'target': 'Sì'},
                        ('translate English to Italian: Yes', 'Sì', ('Sì',))),
    'translate_en_nl': ({'source': 'Yes', 'target': 'Ja'},
                        ('translate English to Dutch: Yes', 'Ja', ('Ja',))),
    'wmt14_en_de': ({'en': 'That is good.', 'de': 'Das ist gut.'},
                    ('translate English to German: That is good.', 'Das ist gut.',
                     ('Das ist gut.',))),
    'wmt_t2t_en_de': ({'en': 'That is good.', 'de': 'Das ist gut.'},
                      ('translate English to German: That is good.', 'Das ist gut.',
                       ('Das ist gut.',))),
    'wmt14_en_fr': ({'en': 'That is good.', 'fr': "C'est bien."},
                    ('translate English to French: That is good.', "C'est bien.",
                     ("C'est bien.",))),
    'summarize_docstrings': ({'document': 'Body text.', 'summary': 'Sum.', 'name': 'os.path'},
                             ('summarize: Body text.', 'Sum.', ('Sum.',))),
    'summarize_code': ({'code': 'def f():\n    return 1', 'summary': 'Return one.', 'name': 'm.f'},
                       ('summarize: def f():\n    return 1', 'Return one.', ('Return one.',))),
    'summarize_code_installed': ({'code': 'def g(): pass', 'summary': 'Do nothing.', 'name': 'g'},
                                 ('summarize: def g(): pass', 'Do nothing.', ('Do nothing.',))),
    'cnn_dailymail': ({'article': 'A long article.', 'highlights': 'Short.', 'id': 'x'},
                      ('summarize: A long article.', 'Short.', ('Short.',))),
    'xsum': ({'document': 'A BBC story.', 'summary': 'One line.', 'id': '1'},
             ('summarize: A BBC story.', 'One line.', ('One line.',))),
    'wordnet_categories': ({'definition': 'a domestic feline', 'lemmas': 'cat',
                            'category': wordnet_categories.LEXNAMES.index('noun.animal')},
                           ('wordnet category: a domestic feline', 'noun.animal',
                            ('noun.animal',))),
    'glue_sst2': ({'sentence': 'a gorgeous film', 'label': 1, 'idx': 7},
                  ('sst2 sentence: a gorgeous film', 'positive', ('positive',))),
    'python_faq': ({'question': 'Why is Python slow?', 'answer': 'It is not.', 'section': 'x'},
                   ('question: Why is Python slow?', 'It is not.', ('It is not.',))),
    'python_reference_qa': ({'question': 'What does json.dumps do?',
                             'context': 'json.dumps(obj): Serialize obj to a str.',
                             'answer': 'Serialize obj to a str.', 'name': 'json.dumps'},
                            ('question: What does json.dumps do? context: json.dumps(obj): '
                             'Serialize obj to a str.', 'Serialize obj to a str.',
                             ('Serialize obj to a str.',))),
    'docstring_qa': ({'question': 'What does json.dumps do?',
                      'context': 'json\ndumps(obj): Serialize obj to a str.',
                      'answer': 'Serialize obj to a str.', 'name': 'json.dumps'},
                     ('question: What does json.dumps do? context: json\ndumps(obj): '
                      'Serialize obj to a str.', 'Serialize obj to a str.',
                      ('Serialize obj to a str.',))),
    'squad': ({'id': '1', 'title': 'T', 'question': 'Who?', 'context': 'Ann ran.',
               'answers': {'text': ['Ann', 'Ann ran'], 'answer_start': [0, 0]}},
              ('question: Who? context: Ann ran.', 'Ann', ('Ann', 'Ann ran'))),
}
# The system-catalog tasks preprocess exactly as the Django ones of their language.
CASES.update({f'{name}_system': case for name, case in list(CASES.items())
              if name.startswith('translate_en_')})
CASES['docstring_qa_installed'] = CASES['docstring_qa']


def test_every_task_has_a_case():
  assert set(CASES) == set(tasks.NAMES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_preprocess_makes_t5_strings(name):
  record, expected = CASES[name]
  task = tasks.get(name)
  example = task.preprocess(record)
  assert isinstance(example, tasks.Example)
  assert example == tasks.Example(*expected)
  assert task.name == name and task.metrics
  if task.labels is not None:
    assert example.targets in task.labels


def test_task_declarations():
  assert tasks.get('translate_en_de').dataset == 'django_translations/de'
  assert tasks.get('wmt14_en_de').dataset == 'wmt14_translate/de-en'
  assert tasks.get('wmt_t2t_en_de').dataset == 'wmt_t2t_translate/de-en'
  assert tasks.get('translate_en_de').metrics == ('bleu', 'chrf')
  assert tasks.get('summarize_docstrings').metrics == ('rouge',)
  assert tasks.get('squad').metrics == tasks.get('python_faq').metrics == ('squad',)
  assert tasks.get('wordnet_categories').metrics == ('accuracy', 'f1')
  labels = tasks.get('wordnet_categories').labels
  assert labels == wordnet_categories.LEXNAMES and len(labels) == 45 == len(set(labels))
  assert tasks.get('glue_sst2').labels == ('negative', 'positive')
  assert [n for n in tasks.NAMES if tasks.get(n).labels] == ['wordnet_categories', 'glue_sst2']
  # Every suggested alternative is an offline task of the same metrics.
  for name in tasks.NAMES:
    alternative = tasks.get(name).offline_alternative
    if alternative:
      assert tasks.get(alternative).offline_alternative is None
      assert tasks.get(alternative).metrics[0] == tasks.get(name).metrics[0]


def test_registry_errors():
  with pytest.raises(ValueError, match=r"Unknown task 'nope' \(config.data.task\).*squad"):
    tasks.get('nope')
  with pytest.raises(ValueError, match='already registered'):
    tasks.register(tasks.get('squad'))


def fake_records(monkeypatch, records, expected_dataset):
  def load_records(data_config, split, dataset=None, **kwargs):
    assert dataset == expected_dataset
    return records
  monkeypatch.setattr(sources, 'load_records', load_records)


def test_load_examples_is_a_lazy_map(monkeypatch, make_data_config):
  calls = []

  def preprocess(record):
    calls.append(record['x'])
    return task_lib.single_reference(record['x'], record['x'].upper())

  task = task_lib.Task('lazy', 'lazy_dataset', preprocess, metrics=('accuracy',))
  fake_records(monkeypatch, [{'x': c} for c in 'abcde'], 'lazy_dataset')
  examples = tasks.load_examples(task, make_data_config(), 'train')
  assert len(examples) == 5 and calls == ['a']  # only the start-up check read a record
  assert examples[3] == ('d', 'D', ('D',)) and examples[-1].inputs == 'e'
  assert [e.targets for e in examples[1:3]] == ['B', 'C']
  assert [e.inputs for e in examples] == list('abcde')


def test_unlabelled_split_fails_on_load(monkeypatch, make_data_config):
  fake_records(monkeypatch, [{'sentence': 'a film', 'label': -1, 'idx': 0}], 'glue/sst2')
  with pytest.raises(ValueError, match=r"'glue/sst2' have no labels .*eval_split=validation"):
    tasks.load_examples(tasks.get('glue_sst2'), make_data_config(), 'test')


def test_missing_feature_fails_on_load(monkeypatch, make_data_config):
  fake_records(monkeypatch, [{'text': 'x'}], 'cnn_dailymail')
  with pytest.raises(ValueError, match=r"'cnn_dailymail'.*feature 'article'.*\['text'\]"):
    tasks.load_examples(tasks.get('cnn_dailymail'), make_data_config(), 'train')


TFDS_TASKS = [name for name in tasks.NAMES if tasks.get(name).offline_alternative]


def test_tfds_tasks():
  assert set(TFDS_TASKS) == {'wmt14_en_de', 'wmt_t2t_en_de', 'wmt14_en_fr', 'cnn_dailymail',
                             'xsum', 'glue_sst2', 'squad'}


@pytest.mark.parametrize('name', TFDS_TASKS)
def test_unprepared_tfds_task_names_the_offline_alternative(make_data_config, tmp_path, name):
  task = tasks.get(name)
  empty = str(tmp_path / 'empty')
  config = make_data_config(data_dir=empty, task=name)
  with pytest.raises(sources.DatasetNotFoundError) as error:
    tasks.load_examples(task, config, 'train')
  message = str(error.value)
  assert f'{task.dataset!r} (the data of config.data.task={name!r}) is not prepared' in message
  assert f'--config.data.task={task.offline_alternative} ' in message
  assert '--config.data.download=True' in message and empty in message
  assert not os.path.exists(empty) or not os.listdir(empty)  # nothing downloaded


# The offline tasks end to end: builder -> records -> examples -> batches of every family.

OFFLINE_TASKS = [name for name in tasks.NAMES if not tasks.get(name).offline_alternative]
PREFIXES = {'translate_en_de': 'translate English to German: ',
            'translate_en_fr': 'translate English to French: ',
            'translate_en_es': 'translate English to Spanish: ',
            'translate_en_it': 'translate English to Italian: ',
            'translate_en_nl': 'translate English to Dutch: ',
            'summarize_docstrings': 'summarize: ', 'summarize_code': 'summarize: ',
            'summarize_code_installed': 'summarize: ', 'wordnet_categories': 'wordnet category: ',
            'python_faq': 'question: ', 'python_reference_qa': 'question: ',
            'docstring_qa': 'question: ', 'docstring_qa_installed': 'question: '}
PREFIXES.update({f'{name}_system': prefix for name, prefix in list(PREFIXES.items())
                 if name.startswith('translate_en_')})
# The datasets of what a machine installs are prepared from sources in their formats (fixtures),
# in a data dir of their own, so that every task runs anywhere; the builders' tests read the real.
SOURCE_FIXTURES = {'wordnet_categories': 'wordnet_dir', 'python_faq': 'faq_dir',
                   'python_reference_qa': 'library_dir',
                   'summarize_code_installed': 'installed_packages',
                   'docstring_qa_installed': 'installed_packages'}
SOURCE_FIXTURES.update({name: 'locale_catalogs' for name in OFFLINE_TASKS
                        if tasks.get(name).dataset.startswith('system_translations/')})


@pytest.fixture
def installed_packages(tmp_path, monkeypatch):
  """A site-packages of one small package (all of the real one takes minutes to read; the
  builder's own tests cover its rules)."""
  from lm_jax.data.builders import python_sources
  package = tmp_path / 'site-packages' / 'pkg'
  package.mkdir(parents=True)
  (package / 'maths.py').write_text(
      'def add(a, b):\n    """Add two numbers together."""\n    return a + b\n')
  monkeypatch.setattr(python_sources, '_site_package_roots', lambda: [str(package.parent)])


def test_offline_tasks():
  assert set(OFFLINE_TASKS) == set(PREFIXES)
  from lm_jax.data import builders
  assert all(tasks.get(name).dataset in builders.NAMES for name in OFFLINE_TASKS)


@pytest.mark.parametrize('name', OFFLINE_TASKS)
def test_offline_task_end_to_end(name, make_data_config, tokenizer, request, tmp_path):
  from lm_jax.data import builders
  from lm_jax.data import pipeline
  from lm_jax.data.tasks import task_iterator
  task = tasks.get(name)
  fixture = SOURCE_FIXTURES.get(name)
  if fixture:
    request.getfixturevalue(fixture)
  config = make_data_config(task=name, tokenizer_path=tokenizer.path, inputs_length=48,
                            targets_length=24,
                            **({'data_dir': str(tmp_path / 'tfds')} if fixture else {}))
  splits = builders.prepare(task.dataset, config.data_dir).info.splits
  for split in splits:
    examples = pipeline.task_examples(config, split)
    records = sources.load_records(config, split, task.dataset)
    assert len(examples) == len(records) == splits[split].num_examples > 0
    assert list(examples) == [task.preprocess(record) for record in records]
    for example in examples:
      assert example.inputs.startswith(PREFIXES[name])
      assert example.targets and example.references[0] == example.targets
      if task.labels:
        assert example.targets in task.labels

  examples = pipeline.task_examples(config, 'validation')
  for family in families.TASK_FAMILIES:
    if family == 'encoder_classifier' and task.labels is None:
      continue
    batches = list(pipeline.make_eval_iterator(config, tokenizer, 16, seed=0, family=family))
    rows = [{key: batch[key][i] for key in batch} for batch in batches for i in range(16)]
    assert len(batches) == -(-len(examples) // 16)
    assert not any(value.any() for row in rows[len(examples):] for value in row.values())
    for row, example in zip(rows, examples):
      inputs = tokenizer.encode(example.inputs)
      if family == 'encoder_decoder':
        assert tokenizer.decode(row['encoder_input_tokens']) == tokenizer.decode(inputs[:48])
        assert tokenizer.decode(row['decoder_target_tokens']) == tokenizer.decode(
            tokenizer.encode(example.targets)[:24])
      elif family == 'decoder_only':
        prompt = int(row['decoder_causal_attention'].sum()) - 1
        assert row['decoder_target_tokens'][:prompt].tolist() == inputs[:47] + [1]
        assert tokenizer.decode(row['decoder_target_tokens'][prompt:]) == tokenizer.decode(
            tokenizer.encode(example.targets)[:24])
      else:
        assert row['label'] == task.labels.index(example.targets) and row['label_weight'] == 1
