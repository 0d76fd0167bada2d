"""docs/equations.md stays true: every file and test it names exists, and
the code writes equation numbers in one format (``Eq. N``)."""
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / 'docs' / 'equations.md'


def _cells():
    return re.findall(r'`([^`]+)`', DOC.read_text())


def test_named_files_and_tests_exist():
    text = DOC.read_text()
    files = {c for c in _cells() if re.fullmatch(r'[\w/.*-]+\.py', c)}
    assert len(files) > 20
    for name in files:
        root = REPO_ROOT if name.startswith(('marl_mm/', 'configs/')) \
            else REPO_ROOT / 'tests'
        assert list(root.glob(name)), name
    # 'file.py::test_a', '::test_b' in the same cell refer to that file
    checked = 0
    for cell in re.findall(r'\| ([^|]*test_[^|]*) \|\s*$', text, re.M):
        current = None
        for ref in re.findall(r'`([^`]+)`', cell):
            if '.py' not in ref and not ref.startswith('::'):
                continue  # a formula, not a reference
            path, _, test = ref.partition('::')
            if path:
                matches = list((REPO_ROOT / 'tests').glob(
                    f'**/{Path(path).name}'))
                assert matches, ref
                current = matches[0]
            if test:
                assert current is not None, ref
                assert re.search(rf'^def {test}\(', current.read_text(),
                                 re.M), ref
                checked += 1
    assert checked > 40


def test_one_equation_format_in_the_code():
    bad = []
    for path in (REPO_ROOT / 'marl_mm').rglob('*.py'):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r'Eqn|Eq\. \(|Equation \(', line):
                bad.append(f'{path.relative_to(REPO_ROOT)}:{i}: {line}')
    assert not bad, bad
