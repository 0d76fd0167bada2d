"""The model zoo stays true: every config a metafile or a model-zoo README
names exists, every config that is trained from configs/ (not its _base_)
has a metafile entry, and every "(docs/X.md, 'Section')" pointer in a
marl_mm docstring or a config comment names an existing heading."""
import re
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIGS = REPO_ROOT / 'configs'
METAFILES = [CONFIGS / 'metafile.yml', CONFIGS / 'voc07_cpu' / 'metafile.yml',
             CONFIGS / 'efficientnet_lite' / 'metafile.yml']
READMES = [CONFIGS / 'README.md', CONFIGS / 'voc07_cpu' / 'README.md',
           CONFIGS / 'efficientnet_lite' / 'README.md']
# the folders these metafiles cover
COVERED = ['.', 'ablations', 'tenview', 'voc07_cpu', 'efficientnet_lite']


def _models():
    for path in METAFILES:
        for model in yaml.safe_load(path.read_text())['Models']:
            yield path, model


def test_model_index_imports_the_metafiles():
    index = yaml.safe_load((REPO_ROOT / 'model-index.yml').read_text())
    assert sorted(index['Import']) == sorted(
        str(p.relative_to(REPO_ROOT)) for p in METAFILES)


def test_metafile_entries_are_complete_and_configs_exist():
    names = set()
    for path, model in _models():
        for key in ('Name', 'In Collection', 'Metadata', 'Results', 'Config'):
            assert key in model, (path, model.get('Name'), key)
        assert 'Weights' in model and model['Weights'] is None, model['Name']
        assert model['Name'] not in names, model['Name']
        names.add(model['Name'])
        assert (REPO_ROOT / model['Config']).is_file(), (path, model['Config'])
        for result in model['Results']:
            assert {'Task', 'Dataset', 'Metrics'} <= set(result), model['Name']
        collections = {c['Name'] for c in
                       yaml.safe_load(path.read_text())['Collections']}
        assert model['In Collection'] in collections, model['Name']


def test_every_trained_config_has_a_metafile_entry():
    listed = {model['Config'] for _, model in _models()}
    for folder in COVERED:
        for cfg in sorted((CONFIGS / folder).glob('*.py')):
            rel = str(cfg.relative_to(REPO_ROOT))
            assert rel in listed, f'{rel} is missing from the metafiles'


def test_modelindex_reads_the_index():
    modelindex = pytest.importorskip('modelindex')
    index = modelindex.load(str(REPO_ROOT / 'model-index.yml'))
    assert len(index.models) == len(list(_models()))


@pytest.mark.parametrize('readme', READMES, ids=lambda p: p.parent.name)
def test_readme_config_paths_exist(readme):
    text = readme.read_text()
    links = re.findall(r'\]\(([^)\s]+\.(?:py|yml|md))\)', text)
    named = re.findall(r'`(?:python tools/\w+\.py )?(configs/[\w/.-]+\.py)`',
                       text)
    assert links and named
    for link in links:
        assert (readme.parent / link).is_file(), (readme, link)
    for path in named:
        assert (REPO_ROOT / path).is_file(), (readme, path)
    # every config in a results table row is a link that resolves
    for row in text.splitlines():
        if row.startswith('| [') and '.py' in row:
            link = re.match(r'\| \[[^]]+\]\(([^)]+)\)', row).group(1)
            assert (readme.parent / link).is_file(), (readme, row)


def _headings(doc: Path):
    return [line.lstrip('#').strip() for line in doc.read_text().splitlines()
            if line.startswith('#')]


def test_docs_pointers_name_existing_sections():
    sources = list((REPO_ROOT / 'marl_mm').rglob('*.py'))
    sources += list(CONFIGS.rglob('*.py'))
    pointer = re.compile(r"\(?(docs/[\w.]+\.md),\s+'([^']+)'")
    found = 0
    for src in sources:
        text = src.read_text()
        # join wrapped comment / docstring lines
        flat = re.sub(r'\s*\n\s*(?:#\s*)?', ' ', text)
        for doc, section in pointer.findall(flat):
            found += 1
            path = REPO_ROOT / doc
            assert path.is_file(), (src, doc)
            assert any(h.startswith(section) for h in _headings(path)), (
                src, doc, section)
    assert found
