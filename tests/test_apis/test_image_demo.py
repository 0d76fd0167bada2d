"""demo/image_demo.py: the printed table holds every class with the
inferencer's probabilities and marks the label set; --show-glimpses writes a
PNG of the image's size; one run through a real subprocess. A folder or
several images give one result per image under its own name; --skip-bad
reports unreadable images and goes on; user errors are one line."""
import os
import subprocess
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from tests_conftest import assert_drawing_of, load_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')
SIZE = 64  # test input side (the quick-start configs use 128)


demo = load_tool('demo/image_demo.py')


def tiny_setup(name: str, root: Path, seed: int):
    """A SIZE px shapes config written to ``root`` and a seeded random
    checkpoint with the class names: ``(config path, checkpoint path)``."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    cfg.model.head.num_classes = len(CLASSES)  # resnet18_gap_shapes: 20
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (SIZE, SIZE)
    if cfg.model.head.type == 'LSTMGlimpseHead':
        cfg.model.head.anchor_sizes = (12, 24, 48)
    config = root / name
    cfg.dump(str(config))
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    ckpt = root / f'{Path(name).stem}.pth'
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': {'classes': list(CLASSES)}}}, ckpt)
    return config, ckpt


@pytest.fixture(scope='module')
def image(tmp_path_factory):
    path = tmp_path_factory.mktemp('img') / 'shapes.png'
    rng = np.random.RandomState(4)
    mmcv.imwrite((rng.rand(90, 120, 3) * 255).astype(np.uint8), str(path))
    return path


def parse_table(stdout: str) -> dict:
    """``{class: (score, predicted)}`` from the printed table."""
    rows = {}
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith('class')) + 2
    for line in lines[start:start + len(CLASSES)]:
        fields = line.split()
        rows[fields[0]] = (float(fields[1]), fields[-1] == '*')
    return rows


def test_demo_subprocess_rarl(tmp_path, image):
    config, ckpt = tiny_setup('rarl_resnet18_shapes.py', tmp_path, seed=5)
    out_png = tmp_path / 'vis' / 'glimpses.png'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'demo' / 'image_demo.py'),
         str(image), str(config), str(ckpt), '--topk', '3',
         '--show-glimpses', str(out_png)],
        capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = parse_table(proc.stdout)
    assert sorted(rows) == sorted(CLASSES)

    from marl_mm.apis import MultiLabelInferencer
    ref = MultiLabelInferencer(str(config), pretrained=str(ckpt))(
        str(image), topk=3)[0]
    for name, (score, predicted) in rows.items():
        assert score == pytest.approx(ref['scores'][name], abs=6e-5)
        assert predicted == (name in ref['pred_class'])
    assert sum(p for _, p in rows.values()) == 3
    # highest first, and the headline lists the label set
    scores = [s for s, _ in rows.values()]
    assert scores == sorted(scores, reverse=True)
    # rich's progress bar may end without a newline when stdout is a pipe,
    # so the headline can follow it on the same line
    headline = next(line for line in proc.stdout.splitlines()
                    if f'{image}: ' in line)
    assert headline.endswith(f'{image}: {", ".join(ref["pred_class"])}')
    assert f'glimpses saved to {out_png}' in proc.stdout
    assert_drawing_of(mmcv.imread(str(out_png)).shape[:2], (90, 120))


def test_demo_gap_thresholds_in_process(tmp_path, image, capsys):
    config, ckpt = tiny_setup('resnet18_gap_shapes.py', tmp_path, seed=6)
    [result] = demo.main([str(image), str(config), str(ckpt)])  # thr 0.5
    rows = parse_table(capsys.readouterr().out)
    want = [c for c in CLASSES if rows[c][0] >= 0.5]
    assert sorted(result['pred_class']) == sorted(want)
    # per-class thresholds: half the classes at 0, half at 1
    thr_file = tmp_path / 'thr.txt'
    thr_file.write_text(''.join(f'{c} {i % 2}\n'
                                for i, c in enumerate(CLASSES)))
    [result] = demo.main([str(image), str(config), str(ckpt),
                          '--class-thr', str(thr_file)])
    assert sorted(result['pred_class']) == sorted(CLASSES[0::2])
    with pytest.raises(SystemExit):
        demo.parse_args(['a.jpg', 'c.py', 'k.pth', '--thr', '0.3',
                         '--class-thr', 'thr.txt'])
    with pytest.raises(SystemExit):
        demo.parse_args(['a.jpg', 'c.py', 'k.pth', '--thr', '1.5'])


def parse_tables(stdout: str) -> dict:
    """``{headline path: {class: (score, predicted)}}`` of every table."""
    lines = stdout.splitlines()
    tables = {}
    for i, line in enumerate(lines):
        if line.startswith('class') and i > 0:
            path = lines[i - 1].rsplit(': ', 1)[0]
            tables[path] = parse_table('\n'.join(lines[i:]))
    return tables


@pytest.fixture(scope='module')
def gap_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp('gap_demo')
    return tiny_setup('resnet18_gap_shapes.py', root, seed=7)


def image_folder(root: Path, bad: bool = False) -> Path:
    """Three different 70 x 90 images (and a note, not an image); with
    ``bad`` a corrupt ``b_bad.jpg`` between them."""
    folder = root / 'imgs'
    folder.mkdir()
    rng = np.random.RandomState(11)
    for name in ('a.png', 'c.png', 'd.jpg'):
        mmcv.imwrite((rng.rand(70, 90, 3) * 255).astype(np.uint8),
                     str(folder / name))
    (folder / 'notes.txt').write_text('not an image')
    if bad:
        (folder / 'b_bad.jpg').write_bytes(b'\xff\xd8 not a jpeg at all')
    return folder


def test_folder_gives_every_image_under_its_own_name(tmp_path, gap_setup,
                                                     capsys):
    """A folder: one printed table per image, headed by that file (before:
    one table, the first file's, headed by the folder), scores equal to the
    inferencer's on that file; an extra image file given beside it too;
    --show-glimpses is then a folder with one PNG per image."""
    config, ckpt = gap_setup
    folder = image_folder(tmp_path)
    extra = tmp_path / 'extra.png'
    mmcv.imwrite(np.full((50, 60, 3), 200, np.uint8), str(extra))
    vis = tmp_path / 'vis'
    results = demo.main([str(folder), str(extra), str(config), str(ckpt),
                         '--topk', '2', '--show-glimpses', str(vis)])
    files = [str(folder / n) for n in ('a.png', 'c.png', 'd.jpg')] + \
        [str(extra)]
    assert [r['input'] for r in results] == files
    tables = parse_tables(capsys.readouterr().out)
    assert sorted(tables) == sorted(files)

    from marl_mm.apis import MultiLabelInferencer
    ref = MultiLabelInferencer(str(config), pretrained=str(ckpt))
    scores = []
    for path, result in zip(files, results):
        want = ref(path, topk=2)[0]
        assert result['pred_class'] == want['pred_class']
        for name, (score, predicted) in tables[path].items():
            assert score == pytest.approx(want['scores'][name], abs=6e-5)
            assert predicted == (name in want['pred_class'])
        scores.append(want['pred_scores'])
    assert not np.allclose(scores[0], scores[1])  # distinct images
    assert sorted(p.name for p in vis.glob('*.png')) == [
        'a.png', 'c.png', 'd.png', 'extra.png']
    assert_drawing_of(mmcv.imread(str(vis / 'extra.png')).shape[:2],
                      (50, 60))


def test_skip_bad_names_the_file_and_goes_on(tmp_path, gap_setup, capsys):
    """A corrupt image in the folder: with --skip-bad it is reported by
    name on stderr and the other three are predicted; without, the run
    stops with one line naming the file and the fix (exit status 1, no
    traceback); --debug raises with the decoder's error chained."""
    config, ckpt = gap_setup
    folder = image_folder(tmp_path, bad=True)
    bad = folder / 'b_bad.jpg'
    results = demo.main([str(folder), str(config), str(ckpt), '--skip-bad'])
    assert [Path(r['input']).name for r in results] == [
        'a.png', 'c.png', 'd.jpg']
    out, err = capsys.readouterr()
    assert f'skipped {bad}: ValueError: image file {bad}' in err
    assert '3 of 4 images predicted, 1 skipped' in out
    assert sorted(parse_tables(out)) == [str(folder / n) for n in
                                         ('a.png', 'c.png', 'd.jpg')]

    with pytest.raises(SystemExit) as stop:
        demo.main([str(folder), str(config), str(ckpt)])
    assert stop.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and 'Traceback' not in err
    assert lines[0].startswith(f'error: cannot read image {bad} (')
    assert 'pass --skip-bad to skip unreadable images' in lines[0]

    with pytest.raises(demo.UserError, match='b_bad.jpg') as raised:
        demo.main([str(folder), str(config), str(ckpt), '--debug'])
    assert isinstance(raised.value.__cause__, ValueError)


def test_user_errors_are_one_line(tmp_path, gap_setup, image, capsys):
    """A missing config, checkpoint or image: one 'error:' line naming the
    file and the fix, exit status 1; through a real subprocess too."""
    config, ckpt = gap_setup
    cases = [
        ([str(image), str(tmp_path / 'nope.py'), str(ckpt)],
         f'error: config file {tmp_path / "nope.py"} not found; check the '
         'path, or give a config name'),
        ([str(image), str(config), str(tmp_path / 'nope.pth')],
         f'error: checkpoint {tmp_path / "nope.pth"} not found; check the '
         'path'),
        ([str(tmp_path / 'nope.jpg'), str(config), str(ckpt)],
         f'error: image {tmp_path / "nope.jpg"} not found; check the path'),
        ([str(image), 'no_such_config_name', str(ckpt)],
         "error: no config named 'no_such_config_name'"),
    ]
    for argv, start in cases:
        with pytest.raises(SystemExit) as stop:
            demo.main(argv)
        assert stop.value.code == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(start) and '\n' not in err, err
    # (warnings off: mmcv-lite warns about its missing ops on import)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'demo' / 'image_demo.py'),
         str(image), 'configs/typo_config.py', str(ckpt)],
        capture_output=True, text=True, env=env, timeout=300,
        cwd=REPO_ROOT)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        'error: config file configs/typo_config.py not found; check the '
        'path, or give a config name (e.g. rarl_resnet18_shapes; '
        'MultiLabelInferencer.list_models() lists them) (--debug shows the '
        'traceback)']
