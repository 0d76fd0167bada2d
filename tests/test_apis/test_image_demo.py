"""demo/image_demo.py: the printed table holds every class with the
inferencer's probabilities and marks the label set; --show-glimpses writes a
PNG of the image's size; one run through a real subprocess."""
import importlib.util
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

REPO_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO_ROOT / 'configs'
CLASSES = ('circle', 'square', 'triangle', 'cross', 'star', 'diamond',
           'ring', 'hexagon')
SIZE = 64  # test input side (the quick-start configs use 128)


def _load_demo():
    spec = importlib.util.spec_from_file_location(
        '_image_demo', REPO_ROOT / 'demo' / 'image_demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


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
    assert mmcv.imread(str(out_png)).shape == (90, 120, 3)


def test_demo_gap_thresholds_in_process(tmp_path, image, capsys):
    config, ckpt = tiny_setup('resnet18_gap_shapes.py', tmp_path, seed=6)
    result = demo.main([str(image), str(config), str(ckpt)])  # thr 0.5
    rows = parse_table(capsys.readouterr().out)
    want = [c for c in CLASSES if rows[c][0] >= 0.5]
    assert sorted(result['pred_class']) == sorted(want)
    # per-class thresholds: half the classes at 0, half at 1
    thr_file = tmp_path / 'thr.txt'
    thr_file.write_text(''.join(f'{c} {i % 2}\n'
                                for i, c in enumerate(CLASSES)))
    result = demo.main([str(image), str(config), str(ckpt), '--class-thr',
                        str(thr_file)])
    assert sorted(result['pred_class']) == sorted(CLASSES[0::2])
    with pytest.raises(SystemExit):
        demo.parse_args(['a.jpg', 'c.py', 'k.pth', '--thr', '0.3',
                         '--class-thr', 'thr.txt'])
    with pytest.raises(SystemExit):
        demo.parse_args(['a.jpg', 'c.py', 'k.pth', '--thr', '1.5'])
