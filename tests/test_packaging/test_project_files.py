"""The files a user looks for: LICENSE (the Apache 2.0 text setup.py
declares), CITATION.cff and the README's BibTeX (the software and both
papers), CHANGELOG.md, docs/logs.md (every key the code logs explained),
TensorBoard's install line, and MANIFEST.in shipping the new top-level
files."""
import re
from pathlib import Path

import yaml

import marl_mm

REPO_ROOT = Path(__file__).resolve().parents[2]
RARL_TITLE = ('Recurrent Attentional Reinforcement Learning for Multi-label '
              'Image Recognition')
RARNN_TITLE = ('Attentive Recurrent Neural Network for Weak-supervised '
               'Multi-label Image Classification')


def test_license_is_the_apache_2_text_setup_declares():
    text = (REPO_ROOT / 'LICENSE').read_text()
    assert 'Apache License' in text and 'Version 2.0, January 2004' in text
    assert 'http://www.apache.org/licenses/' in text
    sections = ['Definitions', 'Grant of Copyright License',
                'Grant of Patent License', 'Redistribution',
                'Submission of Contributions', 'Trademarks',
                'Disclaimer of Warranty', 'Limitation of Liability',
                'Accepting Warranty or Additional Liability']
    for n, title in enumerate(sections, 1):
        assert re.search(rf'^\s+{n}\. {title}\.', text, re.M), title
    assert 'END OF TERMS AND CONDITIONS' in text
    assert "license='Apache License 2.0'" in (REPO_ROOT /
                                              'setup.py').read_text()


def test_citation_cff_cites_the_software_and_both_papers():
    cff = yaml.safe_load((REPO_ROOT / 'CITATION.cff').read_text())
    assert cff['cff-version'] == '1.2.0' and cff['type'] == 'software'
    assert cff['license'] == 'Apache-2.0'
    assert str(cff['version']) == marl_mm.__version__
    assert cff['authors'] and cff['title'].startswith('marl_mm')
    refs = {r['title']: r for r in cff['references']}
    assert set(refs) == {RARL_TITLE, RARNN_TITLE}
    rarl, rarnn = refs[RARL_TITLE], refs[RARNN_TITLE]
    assert rarl['year'] == rarnn['year'] == 2018
    assert rarl['authors'][0]['family-names'] == 'Chen'
    assert 'AAAI' in rarl['collection-title']
    assert rarnn['authors'][0]['family-names'] == 'Li'
    assert 'ACM MM' in rarnn['collection-title']
    assert all(r['type'] == 'conference-paper' for r in refs.values())


def test_readme_bibtex_tensorboard_and_pointers():
    readme = (REPO_ROOT / 'README.md').read_text()
    block = readme.split('```bibtex\n')[1].split('```')[0]
    entries = re.findall(r'^@(\w+)\{(\w+),', block, re.M)
    assert entries == [('inproceedings', 'chen2018rarl'),
                       ('inproceedings', 'li2018rarnn'),
                       ('software', 'marl_mm')]
    assert f'title     = {{{RARL_TITLE}}}' in block
    assert f'title     = {{{RARNN_TITLE}}}' in block
    assert block.count('{') == block.count('}')
    assert 'pip install tensorboard' in readme
    for name in ('LICENSE', 'CITATION.cff', 'CHANGELOG.md', 'docs/logs.md'):
        assert f'`{name}`' in readme, name


def test_manifest_ships_the_top_level_files():
    lines = (REPO_ROOT / 'MANIFEST.in').read_text().splitlines()
    for name in ('README.md', 'LICENSE', 'CITATION.cff', 'CHANGELOG.md'):
        assert f'include {name}' in lines, name
        assert (REPO_ROOT / name).is_file()


def test_changelog_names_the_version():
    text = (REPO_ROOT / 'CHANGELOG.md').read_text()
    assert text.startswith('# Changelog')
    assert f'({marl_mm.__version__})' in text
    assert re.findall(r'^### (\d{4}-\d\d-\d\d)', text, re.M) == sorted(
        re.findall(r'^### (\d{4}-\d\d-\d\d)', text, re.M), reverse=True)


def _logged_keys():
    """Keys the heads return in their loss dictionaries and record as
    rl_stats, read from the source."""
    loss_keys, stat_keys = set(), set()
    for path in (REPO_ROOT / 'marl_mm' / 'models' / 'heads').glob('*.py'):
        src = path.read_text()
        loss_keys |= set(re.findall(r"losses\['(\w+)'\]", src))
        loss_keys |= set(re.findall(r"losses = \{'(\w+)'", src))
        for call in re.findall(r'losses\.update\((.*?)\)\n', src, re.S):
            loss_keys |= set(re.findall(r'(\w+)=', call))
        for call in re.findall(
                r'(?:_record_rl_stats|stats = dict|stats\.update)\((.*?)\)\n',
                src, re.S):
            stat_keys |= set(re.findall(r'(\w+)=', call))
        stat_keys |= set(re.findall(r"exploration_name = '(\w+)'", src))
    return loss_keys, stat_keys


def test_logs_doc_explains_every_logged_key():
    from marl_mm.evaluation.metrics.multi_label_ap import MODE_KEYS
    from marl_mm.evaluation.metrics.multi_label_top_k_metric import \
        RARNN_NAMES
    doc = (REPO_ROOT / 'docs' / 'logs.md').read_text()
    loss_keys, stat_keys = _logged_keys()
    # what the two paper heads log (a regex that found nothing would pass)
    assert {'loss_cls', 'loss_pg', 'loss_baseline', 'loss_value', 'reward',
            'adv_abs', 'loc_spread', 'emission_rate',
            'num_emitted'} <= loss_keys
    assert {'reward', 'advantage_abs', 'entropy', 'loc_spread', 'loc_mean_x',
            'loc_mean_y', 'emission_rate', 'num_emitted',
            'sigma'} <= stat_keys
    for key in loss_keys:
        assert f'| `{key}` |' in doc, key
    for key in stat_keys | {'running_baseline', 'exploration'}:
        assert f'`rl/{key}`' in doc, key
    metric_keys = ({f'mAP_{k}' for k in MODE_KEYS.values()} |
                   set(RARNN_NAMES) | set(RARNN_NAMES.values()) | {'N+'})
    for key in metric_keys:
        assert f'`{key}`' in doc, key
    assert '## Why the total loss can be negative' in doc
    for key in ('lr', 'time', 'data_time', 'loss'):
        assert f'| `{key}` |' in doc, key
