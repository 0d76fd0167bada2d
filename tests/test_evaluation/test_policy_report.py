"""marl_mm.evaluation.policy_report and tools/analysis_tools/policy_report.py:
rewards, mAP, spread and emission figures against direct computations."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score

import marl_mm  # noqa: F401
from marl_mm.evaluation.policy_report import (rarl_policy_outputs,
                                              rarnn_policy_outputs, summarise,
                                              verdicts)
from marl_mm.models.necks import GlimpseFeatures
from mmpretrain.registry import MODELS
from tests_conftest import load_tool

REPO = Path(__file__).resolve().parents[2]


def _build(cfg):
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.eval()


def test_rarl_learned_vs_random_by_hand():
    head = _build(dict(type='LSTMGlimpseHead', num_classes=3, in_channels=2,
                       feat_stride=4, num_steps=2, anchor_sizes=(4., 8.),
                       roi_size=2, embed_dims=5, hidden_dims=4))
    with torch.no_grad():  # the learned policy: always l = tanh(0.5, -1)
        head.loc_net.net[-1].bias.copy_(torch.tensor([0.5, -1.]))
    feats = (torch.randn(6, 2, 6, 6), )
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0],
                      [0, 1, 0], [0, 0, 0]]).float()  # the last: no label
    torch.manual_seed(1)
    out = rarl_policy_outputs(head, feats, y)
    torch.manual_seed(1)
    direct = head.glimpse(feats, 'random')
    torch.testing.assert_close(out['random']['locations'],
                               direct['locations'])
    with torch.no_grad():
        mean = head.glimpse(feats, 'mean')
    # reward: top-|GT| recall of the pooled scores, the last image excluded
    top = mean['scores'].argsort(-1, descending=True)
    hand = [len(set(top[i, :int(y[i].sum())].tolist()) &
                set(y[i].nonzero().flatten().tolist())) / y[i].sum().item()
            for i in range(5)]
    report = summarise(out, y.numpy().astype(int))
    assert report['learned']['reward'] == pytest.approx(np.mean(hand))
    ap = average_precision_score(y.numpy(),
                                 mean['scores'].softmax(-1).detach(),
                                 average=None)
    assert report['learned']['mAP'] == pytest.approx(100 * ap.mean())
    loc = torch.tanh(torch.tensor([0.5, -1.]))
    assert report['learned']['loc_spread'] == pytest.approx(0., abs=1e-6)
    assert report['learned']['loc_mean_x'] == pytest.approx(loc[0].item())
    assert report['learned']['loc_mean_y'] == pytest.approx(loc[1].item())
    assert report['learned']['near_border'] == 0  # |tanh(-1)| = 0.76
    r = out['random']['locations']
    assert report['random']['loc_spread'] == pytest.approx(
        r.std(0).mean().item())
    assert report['random']['near_border'] == pytest.approx(
        (r.abs() > 0.9).any(-1).float().mean().item())


def _iou(a, b):
    w = max(0., min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0., min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return w * h / (union - w * h)


def test_rarl_centre_control_and_object_figures_by_hand():
    """The 'centre' control looks at (0, 0) with the trained head; the
    object figures of hand-placed locations and boxes."""
    head = _build(dict(type='LSTMGlimpseHead', num_classes=3, in_channels=2,
                       feat_stride=4, num_steps=2, anchor_sizes=(4., 8.),
                       roi_size=2, embed_dims=5, hidden_dims=4))
    with torch.no_grad():  # the learned policy: always l = tanh(0.5, -1)
        head.loc_net.net[-1].bias.copy_(torch.tensor([0.5, -1.]))
    feats = (torch.randn(3, 2, 6, 6), )  # input 24 x 24
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1]]).float()
    # image 0: a box around the learned location (0.46, -0.76); image 1:
    # a box around the centre, exactly the centre's 4 x 4 px anchor
    # ([10, 10, 14, 14] of 24); image 2: no box (all difficult)
    s = 1 / 6
    boxes = torch.tensor([[[.3, -.9, .6, -.5]], [[-s, -s, s, s]],
                          [[0., 0., 0., 0.]]])
    valid = torch.tensor([[True], [True], [False]])
    out = rarl_policy_outputs(head, feats, y, objects=(boxes, valid))
    assert set(out) == {'learned', 'random', 'centre'}
    assert (out['centre']['locations'] == 0).all()
    last = head.loc_net.net[-1]
    weight, bias = last.weight.clone(), last.bias.clone()
    with torch.no_grad():  # the same head with l = tanh(0) = 0
        last.weight.zero_()
        last.bias.zero_()
        centre = head.glimpse(feats, 'mean')
        last.weight.copy_(weight)
        last.bias.copy_(bias)
    torch.testing.assert_close(out['centre']['scores'],
                               head._probabilities(centre['scores']))
    # the hook is gone: the learned policy is back
    assert not head.loc_net._forward_hooks
    torch.testing.assert_close(
        head.glimpse(feats, 'mean')['locations'],
        out['learned']['locations'])
    torch.testing.assert_close(out['learned']['on_object'],
                               torch.tensor([1., 0., 0.]))
    torch.testing.assert_close(out['centre']['on_object'],
                               torch.tensor([0., 1., 0.]))
    # best IoU of a step's 6 anchors with the box, in input pixels
    loc = torch.tanh(torch.tensor([0.5, -1.])).tolist()
    gt0 = [(v + 1) / 2 * 24 for v in (.3, -.9, .6, -.5)]
    anchors = [(w, h) for size in (4., 8.) for w, h in
               ((size * 2 ** .5, size / 2 ** .5), (size, size),
                (size / 2 ** .5, size * 2 ** .5))]
    cx, cy = (loc[0] + 1) * 12, (loc[1] + 1) * 12
    hand = max(_iou((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), gt0)
               for w, h in anchors)
    assert out['learned']['region_iou'][0].item() == pytest.approx(hand)
    assert out['centre']['region_iou'][1].item() == pytest.approx(1.)
    assert out['centre']['region_iou'][0].item() == 0  # no overlap
    r = out['random']['locations']  # (3, 2, 2)
    inside = ((r[0, :, 0] >= .3) & (r[0, :, 0] <= .6) &
              (r[0, :, 1] >= -.9) & (r[0, :, 1] <= -.5))
    assert out['random']['on_object'][0] == inside.float().mean()
    report = summarise(out, y.numpy().astype(int))
    # image 2 (no box) left out of the box figures
    assert report['learned']['on_object'] == pytest.approx(.5)
    assert report['centre']['on_object'] == pytest.approx(.5)
    assert report['centre']['region_iou'] == pytest.approx(.5)
    # box areas in [-1, 1]^2 (area 4): 0.3 x 0.4 and (1/3)^2
    share = (.12 / 4 + 1 / 9 / 4) / 2
    for mode in ('learned', 'random', 'centre'):
        assert report[mode]['box_share'] == pytest.approx(share)
    lines = verdicts(report)
    assert lines[-2].startswith('NO GAIN on_object: learned 0.500 vs ')
    assert f'chance: box_share {share:.3f}' in lines[-2]


def _rarnn_head_emitting_where_x0_above_half():
    """A GRREHead whose indicator emits glimpse t iff x[t, 0] > 0.5."""
    head = _build(dict(type='GRREHead', num_classes=3, in_channels=6,
                       context_channels=6, relation_channels=5))
    with torch.no_grad():
        head.emission.fc.weight.zero_()
        head.emission.fc.weight[0, 0] = 100.
        head.emission.fc.bias.fill_(-50.)
    return head


def test_rarnn_attention_on_object_by_hand():
    head = _rarnn_head_emitting_where_x0_above_half()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 4, 6, generator=g)
    x[0, :, 0] = torch.tensor([.9, .1, .8, .7])  # emits 0, 2, 3
    x[1, :, 0] = torch.tensor([.1, .2, .1, .1])  # fallback: emits 1
    # glimpse t puts its attention on the top-left cell (t even) or the
    # bottom-right one (t odd), both channels alike; glimpse 3 of image 0
    # is zero everywhere: uniform
    a = torch.zeros(2, 4, 2, 2, 2)  # (B, T, C, S, S)
    a[:, 0::2, :, 0, 0] = 1.
    a[:, 1::2, :, 1, 1] = 2.
    a[0, 3] = 0.
    feats = GlimpseFeatures(x=x, v=None, a=a,
                            c=torch.rand(2, 4, 6, generator=g))
    y = torch.tensor([[1, 0, 0], [0, 1, 1]]).float()
    # image 0: the top-left quarter; image 1: the left half
    boxes = torch.tensor([[[-1., -1., 0., 0.]], [[-1., -1., 0., 1.]]])
    valid = torch.ones(2, 1, dtype=torch.bool)
    out = rarnn_policy_outputs(head, feats, y,
                               torch.Generator().manual_seed(3),
                               objects=(boxes, valid))
    # per glimpse mass on the box: image 0 [1, 0, 1, 1/4 (uniform)],
    # image 1 [1, 0, 1, 0]
    mass = torch.tensor([[1., 0., 1., .25], [1., 0., 1., 0.]])
    torch.testing.assert_close(out['learned']['attn_on_object'],
                               torch.tensor([(1 + 1 + .25) / 3, 0.]))
    torch.testing.assert_close(out['all']['attn_on_object'],
                               mass.mean(-1))
    e = out['random']['emitted'].float()
    torch.testing.assert_close(out['random']['attn_on_object'],
                               (mass * e).sum(-1) / e.sum(-1))
    torch.testing.assert_close(out['all']['box_share'],
                               torch.tensor([.25, .5]))
    report = summarise(out, y.numpy().astype(int))
    assert report['learned']['attn_on_object'] == pytest.approx(.375)
    assert report['all']['attn_on_object'] == pytest.approx(
        (2.25 / 4 + .5) / 2)
    assert report['all']['box_share'] == pytest.approx(.375)
    lines = verdicts(report)
    assert lines[-1] == (
        'OK attention: attn_on_object of all candidates 0.531 > box_share '
        '0.375 (+0.156 > 0.02): the RHN attends to the objects more than '
        'a uniform attention')
    with pytest.raises(ValueError, match='attention maps'):
        rarnn_policy_outputs(head, feats._replace(a=None), y,
                             objects=(boxes, valid))


def test_rarnn_learned_all_and_random_emissions():
    head = _rarnn_head_emitting_where_x0_above_half()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 5, 6, generator=g)
    x[3, :, 0] = 0.  # nothing above 0.5: the fallback emits the argmax
    feats = GlimpseFeatures(x=x, v=None, a=None,
                            c=torch.rand(4, 5, 6, generator=g))
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 1]]).float()
    out = rarnn_policy_outputs(head, feats, y,
                               torch.Generator().manual_seed(3))
    learned = x[..., 0] > 0.5
    for b in range(4):  # docs/method.md's fallback: the most probable glimpse
        if not learned[b].any():
            learned[b, x[b, :, 0].argmax()] = True
    assert torch.equal(out['learned']['emitted'], learned)
    assert out['all']['emitted'].all()
    assert torch.equal(out['random']['emitted'].sum(-1), learned.sum(-1))
    for mode in ('learned', 'all', 'random'):
        e = out[mode]['emitted']
        log_p = head._glimpse_log_probs(feats, e, 1)
        torch.testing.assert_close(out[mode]['reward'],
                                   head.reward_fn(log_p, e, y))
        torch.testing.assert_close(out[mode]['scores'],
                                   (log_p.exp() * e[..., None]).amax(1))
    report = summarise(out, y.numpy().astype(int))
    assert report['all']['emission_rate'] == 1
    assert report['all']['emit_all'] == 1
    assert report['learned']['emission_rate'] == pytest.approx(
        learned.float().mean().item())
    assert report['learned']['num_emitted'] == pytest.approx(
        learned.sum(-1).float().mean().item())
    assert report['random']['num_emitted'] == report['learned'][
        'num_emitted']
    # the candidates: emission probabilities and labels with all emitted
    p = torch.sigmoid(100. * x[..., 0] - 50.)
    torch.testing.assert_close(out['all']['emission_prob'], p)
    labels = head._glimpse_log_probs(
        feats, torch.ones(4, 5, dtype=torch.bool), 1).argmax(-1)
    assert torch.equal(out['all']['labels'], labels)
    same = [len(set(labels[b].tolist())) == 1 for b in range(4)]
    assert report['all']['one_label'] == pytest.approx(np.mean(same))
    # over the images with two or more labels only, and the share of
    # images with one label (where one label for all candidates is right)
    multi = y.sum(-1) >= 2
    assert report['all']['gt_one_label'] == pytest.approx(
        1 - multi.float().mean().item())
    if multi.any():
        assert report['all']['one_label_multi'] == pytest.approx(
            np.mean([same[b] for b in range(4) if multi[b]]))
    assert report['all']['p_spread'] == pytest.approx(
        np.mean([np.std(p[b].numpy(), ddof=1) for b in range(4)]), rel=1e-5)
    # the candidates whose argmax label the image does not have
    wrong = [[y[b, labels[b, t]] == 0 for t in range(5)] for b in range(4)]
    assert 0 < np.mean(wrong) < 1
    assert report['all']['wrong_label'] == pytest.approx(
        np.mean(wrong))
    # ... and a label marked difficult (ignored) is not counted wrong
    ignore = np.zeros((4, 3), bool)
    ignore[:, :] = y.numpy() == 0
    assert summarise(out, y.numpy().astype(int), ignore)['all'][
        'wrong_label'] == 0
    assert 'one_label' not in report['learned']
    # drop_wrong keeps exactly the right-label candidates (or, with none
    # right, the most confident one) and is scored like the others
    p_all = head._glimpse_log_probs(
        feats, torch.ones(4, 5, dtype=torch.bool), 1).exp()
    for b in range(4):
        keep = [not w for w in wrong[b]]
        if not any(keep):
            best = max(range(5), key=lambda t: float(p_all[b, t].max()))
            keep = [t == best for t in range(5)]
        assert out['drop_wrong']['emitted'][b].tolist() == keep
    e = out['drop_wrong']['emitted']
    log_p = head._glimpse_log_probs(feats, e, 1)
    torch.testing.assert_close(out['drop_wrong']['scores'],
                               (log_p.exp() * e[..., None]).amax(1))
    lines = verdicts(report)
    ref = [v for v in lines if v.startswith('REFERENCE emission')]
    assert len(ref) == 1 and (
        f"{report['drop_wrong']['mAP'] - report['all']['mAP']:+.2f}" in
        ref[0])
    # drop_wrong reads the labels: never the control the reward is judged
    # against
    fake = {m: dict(r) for m, r in report.items()}
    fake['drop_wrong']['reward'] = fake['learned']['reward'] + 1
    fake['all']['reward'] = fake['random']['reward'] = \
        fake['learned']['reward'] - 1
    assert any(v.startswith('OK reward') for v in verdicts(fake))
    # one candidate repeated T times: no spread of p_t (its labels may
    # still differ: the GRRE's recurrence over i breaks the symmetry)
    rep = GlimpseFeatures(x=x[:, :1].expand(-1, 5, -1), v=None, a=None,
                          c=feats.c[:, :1].expand(-1, 5, -1))
    copies = summarise(rarnn_policy_outputs(head, rep, y),
                       y.numpy().astype(int))['all']
    assert copies['p_spread'] == 0
    # a classifier biased to class 2 for every glimpse of images 0 and 1
    # only (their x[..., 1] is raised): those two share one label
    with torch.no_grad():
        head.w_xp.weight[2, 1] = 1e3
    x2 = x.clone()
    x2[:2, :, 1] = 1.
    x2[2:, :, 1] = 0.
    biased = GlimpseFeatures(x=x2, v=None, a=None, c=feats.c)
    out2 = rarnn_policy_outputs(head, biased, y)
    assert (out2['all']['labels'][:2] == 2).all()
    labels2 = out2['all']['labels']
    expect = np.mean([len(set(labels2[b].tolist())) == 1 for b in range(4)])
    assert 0.5 <= expect
    assert summarise(out2, y.numpy().astype(int))['all'][
        'one_label'] == pytest.approx(expect)
    with pytest.raises(ValueError, match='use_emission'):
        rarnn_policy_outputs(_build(dict(
            type='GRREHead', num_classes=3, in_channels=6,
            context_channels=6, relation_channels=5, use_emission=False)),
            feats, y)


def test_tool_runs_on_a_tiny_trained_checkpoint(tmp_path):
    """The CLI end to end: a RARL model on generated images (in the
    VOCdevkit layout, with boxes), one training iteration through the
    Runner, then the report from its checkpoint, with --boxes voc."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    from PIL import Image
    rng = np.random.default_rng(0)
    data = []
    voc = tmp_path / 'VOC2007'
    (voc / 'JPEGImages').mkdir(parents=True)
    (voc / 'Annotations').mkdir()
    for i in range(4):
        path = voc / 'JPEGImages' / f'{i}.png'
        Image.fromarray(rng.integers(0, 255, (64, 48, 3),
                                     dtype=np.uint8)).save(path)
        data.append(dict(img_path=str(path), gt_label=[i % 3]))
        box = (1, 1, 24, 32) if i % 2 else (25, 33, 48, 64)
        (voc / 'Annotations' / f'{i}.xml').write_text(
            '<annotation><size><width>48</width><height>64</height></size>'
            '<object><name>a</name><difficult>0</difficult><bndbox>'
            + ''.join(f'<{k}>{v}</{k}>' for k, v in zip(
                ('xmin', 'ymin', 'xmax', 'ymax'), box)) +
            '</bndbox></object><object><name>b</name><difficult>1'
            '</difficult></object></annotation>')
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(metainfo=dict(classes=['a', 'b', 'c']),
                                   data_list=data)))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    loader = dict(batch_size=2, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=False),
                  dataset=dict(type='MultiLabelDataset', ann_file=str(ann),
                               pipeline=pipeline))
    cfg = Config(dict(
        default_scope='mmpretrain',
        custom_imports=dict(imports=['marl_mm'], allow_failed_imports=False),
        # top level, as the data configs put it: the Runner (and the tool)
        # merge it into the model
        data_preprocessor=dict(num_classes=3, to_onehot=True,
                               mean=[120., 110., 100.], std=[50., 60., 70.]),
        model=dict(
            type='ImageClassifier',
            backbone=dict(type='FeatureMapWrapper', backbone=dict(
                type='ResNet', depth=18, stem_channels=8, base_channels=8,
                num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                out_indices=(2, )), out_index=-1),
            head=dict(type='LSTMGlimpseHead', num_classes=3, in_channels=32,
                      feat_stride=16, num_steps=2, anchor_sizes=(16, 32),
                      roi_size=3, embed_dims=8, hidden_dims=8)),
        train_dataloader=loader, val_dataloader=loader,
        val_evaluator=dict(type='MultiLabelAP', mode='noninterp'),
        train_cfg=dict(by_epoch=False, max_iters=1, val_interval=10),
        val_cfg=dict(),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1, by_epoch=False)),
        work_dir=str(tmp_path / 'work')))
    cfg_path = tmp_path / 'cfg.py'
    cfg.dump(str(cfg_path))
    runner = Runner.from_cfg(Config.fromfile(str(cfg_path)))
    runner.train()
    metrics = runner.val()  # the learned policy's mAP, as the Runner has it
    out = tmp_path / 'report.json'
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools/analysis_tools/policy_report.py'),
         str(cfg_path), str(tmp_path / 'work/iter_1.pth'), '--json',
         str(out), '--boxes', 'voc'], capture_output=True, text=True,
        cwd=REPO)
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'learned' in res.stdout and 'random' in res.stdout
    report = json.loads(out.read_text())
    assert report['_meta']['images'] == 4
    assert 0 <= report['learned']['reward'] <= 1
    # same model, same images, same policy: the Runner's figure
    assert report['learned']['mAP'] == pytest.approx(
        metrics['multi-label/mAP_noninterp'], abs=1e-3)
    assert report['random']['loc_spread'] > 0.1  # uniform: about 0.58
    # the boxes: one per image (the difficult object skipped), a quarter
    # of the 48 x 64 image each: 24 x 32 px
    assert report['_meta']['box_images'] == 4
    for mode in ('learned', 'random', 'centre'):
        assert report[mode]['box_share'] == pytest.approx(0.25)
        assert 0 <= report[mode]['on_object'] <= 1
        assert 0 <= report[mode]['region_iou'] <= 1
    assert report['centre']['loc_spread'] == 0
    # (0, 0) is the corner of both boxes: on the object, closed boxes
    assert report['centre']['on_object'] == 1
    # a verdict per check, printed and in the json, from the same figures
    rows = {m: r for m, r in report.items() if not m.startswith('_')}
    assert report['_verdicts'] == verdicts(rows)
    learned = report['learned']

    def best(name):
        return max(report[m][name] for m in ('random', 'centre'))
    assert [line.split(':')[0] for line in report['_verdicts']] == [
        ('OK' if learned['loc_spread'] >= 0.15 else 'COLLAPSE') +
        ' location',
        ('OK' if learned['near_border'] < 0.5 else 'COLLAPSE') + ' border',
        ('OK' if learned['reward'] > best('reward') + 0.005 else
         'NO GAIN') + ' reward',
        ('OK' if learned['on_object'] > best('on_object') + 0.02 else
         'NO GAIN') + ' on_object',
        ('OK' if learned['region_iou'] > best('region_iou') + 0.01 else
         'NO GAIN') + ' region_iou']
    printed = res.stdout.split('verdicts:\n')[1].splitlines()
    assert [line.strip() for line in printed] == report['_verdicts']
    assert '  loc_spread: std of the locations over images' in res.stdout
    assert '  on_object: share of the locations inside a GT box' in \
        res.stdout
    # without --boxes: no box figures, in process
    tool = load_tool('tools/analysis_tools/policy_report.py')
    plain = tool.run(tool.parse_args([str(cfg_path),
                                      str(tmp_path / 'work/iter_1.pth')]))
    assert 'on_object' not in plain['learned']
    assert plain['learned']['mAP'] == pytest.approx(report['learned']['mAP'])
    assert [line.split(':')[0] for line in plain['_verdicts']] == [
        line.split(':')[0] for line in report['_verdicts'][:3]]


def _rarnn_report(rate=1., num=10., one_label=0.956, p_spread=0.001,
                  learned_reward=0.40, all_reward=0.40, random_reward=0.39):
    """A RARNN report as summarise gives it (defaults: the VOC CPU
    checkpoint of docs/rarnn.md: emit-all, candidates copies)."""
    return dict(
        learned=dict(reward=learned_reward, mAP=24.1, emission_rate=rate,
                     num_emitted=num, emit_all=float(rate == 1.)),
        all=dict(reward=all_reward, mAP=24.1, emission_rate=1.,
                 num_emitted=10., emit_all=1., one_label=one_label,
                 p_spread=p_spread),
        random=dict(reward=random_reward, mAP=24.0, emission_rate=rate,
                    num_emitted=num, emit_all=float(rate == 1.)),
        _meta=dict(images=100, split='val'))


def _rarl_report(spread, border=0.1, learned_reward=0.313,
                 random_reward=0.301):
    return dict(learned=dict(reward=learned_reward, mAP=17.3,
                             loc_spread=spread, loc_mean_x=0.1,
                             loc_mean_y=0.0, near_border=border),
                random=dict(reward=random_reward, mAP=16.0, loc_spread=0.58,
                            loc_mean_x=0., loc_mean_y=0., near_border=0.2))


def test_verdicts_name_the_collapses():
    """One verdict line per check with the figure and its threshold: RARNN
    emission rate 1 = emit-all collapse, one_label >= 0.5 = copies,
    p_spread < 0.01 = same p_t; RARL spread < 0.15 = one location for all
    images, near_border >= 0.5; the reward against the best control."""
    assert verdicts(_rarnn_report()) == [
        'COLLAPSE emission: emission_rate 1.000 = 1: emit-all, the learned '
        'policy is the "all" control',
        'COPIES candidates: one_label 0.956 >= 0.5: in most images every '
        'candidate glimpse predicts the same label, so no emission policy '
        'can pick them apart',
        'COPIES emission probabilities: p_spread 0.001 < 0.01: the '
        'indicator gives every candidate the same p_t',
        'NO GAIN reward: learned 0.400 vs all 0.400 (+0.000, margin 0.005): '
        'the policy is no better than its control']
    healthy = verdicts(_rarnn_report(rate=0.4, num=4., one_label=0.2,
                                     p_spread=0.2, learned_reward=0.5))
    assert [line.split(':')[0] for line in healthy] == [
        'OK emission', 'OK candidates', 'OK emission probabilities',
        'OK reward']
    assert healthy[-1] == ('OK reward: learned 0.500 beats every control '
                           '(best: all 0.400, +0.100 > 0.005)')
    fallback = verdicts(_rarnn_report(rate=0.1, num=1.))
    assert fallback[0] == ('COLLAPSE emission: num_emitted 1.000 of 10: '
                           'only the fallback glimpse is emitted')
    # thresholds: 0.5 one_label is copies, 0.15 spread is not a collapse
    assert verdicts(_rarnn_report(one_label=0.5))[1].startswith('COPIES')
    assert verdicts(_rarnn_report(one_label=0.49))[1].startswith('OK')
    # with multi-label images the check reads them only: 61% one-label
    # images make one_label 0.7 for candidates that are right
    report = _rarnn_report(one_label=0.7)
    report['all'].update(one_label_multi=0.3, gt_one_label=0.61)
    assert verdicts(report)[1] == (
        'OK candidates: one_label_multi 0.300 < 0.5: in most images with '
        'two or more labels the candidates predict different labels')
    report['all']['one_label_multi'] = 0.6
    assert verdicts(report)[1].startswith(
        'COPIES candidates: one_label_multi 0.600')

    # the RARL VOC CPU run of docs/rarl.md: one location for all images,
    # reward 0.313 vs 0.301 random
    assert verdicts(_rarl_report(0.05)) == [
        'COLLAPSE location: loc_spread 0.050 < 0.15: one location for all '
        'images (uniform random: 0.58)',
        'OK border: near_border 0.100 < 0.5',
        'OK reward: learned 0.313 beats every control (best: random 0.301, '
        '+0.012 > 0.005)']
    assert verdicts(_rarl_report(0.15))[0].startswith('OK location')
    assert verdicts(_rarl_report(0.1499))[0].startswith('COLLAPSE location')
    assert verdicts(_rarl_report(0.3, border=0.6))[1].startswith(
        'COLLAPSE border: near_border 0.600 >= 0.5')


def test_printed_report_explains_the_columns():
    tool = load_tool('tools/analysis_tools/policy_report.py')
    report = _rarnn_report()
    text = tool.format_report(report)
    lines = text.splitlines()
    assert lines[0].split() == ['policy', 'reward', 'mAP', 'emission_rate',
                                'num_emitted', 'emit_all', 'one_label',
                                'p_spread']
    assert ('  one_label: share of images whose candidates all predict one '
            'label (1: the candidates are copies of one glimpse)') in lines
    assert any(line.startswith('  p_spread: std of the emission '
                               'probabilities') for line in lines)
    tail = lines[lines.index('verdicts:') + 1:]
    assert [line.strip() for line in tail] == verdicts(report)
    # a 14-character column name keeps a space before it
    for mode in ('learned', 'all', 'random'):
        report[mode].update(attn_on_object=.5, box_share=.4)
    assert tool.format_report(report).splitlines()[0].split()[-3:] == [
        'p_spread', 'attn_on_object', 'box_share']


def test_object_verdicts_against_the_best_control():
    """With boxes: the learned on_object / region_iou against the best
    control (chance named), RARNN's candidates against box_share."""
    report = _rarl_report(0.3)
    for mode, on, iou in (('learned', .62, .30), ('random', .48, .25),
                          ('centre', .50, .31)):
        report.setdefault(mode, dict(reward=.3, loc_spread=0.,
                                     near_border=0.))
        report[mode].update(on_object=on, region_iou=iou, box_share=.45)
    assert verdicts(report)[3:] == [
        'OK on_object: learned 0.620 > centre 0.500 (+0.120 > 0.02; '
        'chance: box_share 0.450)',
        'NO GAIN region_iou: learned 0.300 vs centre 0.310 (-0.010, '
        'margin 0.01): the policy looks no more at the objects than its '
        'control']
    rarnn = _rarnn_report()
    for mode, v in (('learned', .41), ('all', .42), ('random', .40)):
        rarnn[mode].update(attn_on_object=v, box_share=.41)
    assert verdicts(rarnn)[4:] == [
        'NO GAIN attn_on_object: learned 0.410 vs all 0.420 (-0.010, '
        'margin 0.02; chance: box_share 0.410): the policy looks no more '
        'at the objects than its control',
        'NO GAIN attention: attn_on_object of all candidates 0.420 vs '
        'box_share 0.410 (+0.010, margin 0.02): the RHN attends to the '
        'objects no more than a uniform attention']


def test_tool_refuses_pipelines_the_box_mapping_cannot_follow(tmp_path,
                                                              capsys):
    """A crop in the test pipeline is refused; for a feature cache, the
    pipeline of the config it was made with (its source_config)."""
    from mmengine.config import Config
    from marl_mm.datasets import CachedFeatureMaps
    tool = load_tool('tools/analysis_tools/policy_report.py')
    crop = [dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(256, 256)),
            dict(type='CenterCrop', crop_size=224), dict(type='PackInputs')]
    cfg = Config(dict(val_dataloader=dict(dataset=dict(pipeline=crop))))
    with pytest.raises(ValueError, match='cfg.py: the test pipeline has '
                       'CenterCrop'):
        tool.check_box_mapping(cfg, 'val', object(), 'cfg.py')
    assert tool.check_box_mapping(  # whole image: ori_shape is the image's
        Config(dict(val_dataloader=dict(dataset=dict(
            pipeline=crop[:2] + crop[3:])))), 'val', object(), 'cfg.py')
    # a cache made with the cropping config
    source = tmp_path / 'source.py'
    Config(dict(val_dataloader=dict(dataset=dict(pipeline=crop)))).dump(
        str(source))
    np.save(tmp_path / 'val.npy', np.zeros((1, 2, 2, 3), np.float16))

    def cache(source_config):
        ann = tmp_path / 'val.json'
        ann.write_text(json.dumps(dict(
            metainfo=dict(classes=['a'], feat_shape=[2, 2, 3],
                          source_config=source_config),
            data_list=[dict(img_path='x/JPEGImages/1.jpg', gt_label=[0],
                            feat_index=0)])))
        return CachedFeatureMaps(str(ann), pipeline=[])

    plain = Config(dict(val_dataloader=dict(dataset=dict(pipeline=[]))))
    with pytest.raises(ValueError, match='source.py .the config of the '
                       'feature cache of cached.py.: the test pipeline has '
                       'CenterCrop'):
        tool.check_box_mapping(plain, 'val', cache(str(source)), 'cached.py')
    # a cache whose config is not here: assumed, and said so; its
    # ori_shape is the map's, not the image's
    assert not tool.check_box_mapping(plain, 'val', cache('gone.py'),
                                      'cached.py')
    assert "names no config that is here ('gone.py')" in \
        capsys.readouterr().out


def test_rarl_report_with_the_mixture_policy():
    """map_policy='mixture': 'learned' looks at the most probable cells
    (cell centres, what glimpse('mean') gives), the 'centre' control at
    (0, 0) through the same forward hook, which is removed after."""
    head = _build(dict(type='LSTMGlimpseHead', num_classes=3, in_channels=2,
                       feat_stride=4, num_steps=2, anchor_sizes=(4., 8.),
                       roi_size=2, embed_dims=5, hidden_dims=4,
                       policy=dict(map_channels=2, zero_init=False,
                                   map_policy='mixture')))
    feats = (torch.randn(3, 2, 6, 6), )
    y = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 1]]).float()
    out = rarl_policy_outputs(head, feats, y)
    assert (out['centre']['locations'] == 0).all()
    learned = out['learned']['locations']  # (B, T, 2)
    centres = head.loc_net.cell_centres(6, 6)
    gap = (learned[:, :, None] - centres).abs().sum(-1).amin(-1)
    assert gap.max() < 1e-6  # every location is a cell centre
    with torch.no_grad():
        torch.testing.assert_close(head.glimpse(feats, 'mean')['locations'],
                                   learned)
    assert not head.loc_net._forward_hooks


def test_rarnn_attention_spread_by_hand():
    """attn_spread: each candidate's attention centre of mass (channels
    averaged), std over images, mean over candidates and x / y; one place
    for every image gives 0 and a COLLAPSE verdict."""
    head = _rarnn_head_emitting_where_x0_above_half()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 6, generator=g)
    a = torch.zeros(3, 2, 4, 2, 2)  # (B, T, C, S, S), cells at -0.5, 0.5
    a[0, :, :, 0, 0] = 1.  # image 0: both candidates at (x, y) = (-.5, -.5)
    a[1, 0, :, 0, 1] = 2.  # image 1: candidate 0 at (.5, -.5),
    a[1, 1, :, 1, :] = 1.  # candidate 1 on the bottom row, (0, .5)
    a[2, 0, :2, 1, 1] = 1.  # image 2: candidate 0 at (.5, .5) (2 channels)
    # image 2, candidate 1: no mass -> (0, 0)
    feats = GlimpseFeatures(x=x, v=None, a=a,
                            c=torch.rand(3, 2, 6, generator=g))
    y = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]).float()
    out = rarnn_policy_outputs(head, feats, y)
    centres = torch.tensor([[[-.5, -.5], [-.5, -.5]],
                            [[.5, -.5], [0., .5]],
                            [[.5, .5], [0., 0.]]])
    torch.testing.assert_close(out['all']['attn_centres'], centres)
    report = summarise(out, y.numpy().astype(int))
    expected = np.mean([np.std(centres[:, t, k].numpy(), ddof=1)
                        for t in range(2) for k in range(2)])
    assert report['all']['attn_spread'] == pytest.approx(expected)
    assert 'attn_spread' not in report['learned']
    assert any(v.startswith('OK attention: attn_spread')
               for v in verdicts(report))
    same = feats._replace(a=a[:1].expand(3, -1, -1, -1, -1))
    report = summarise(rarnn_policy_outputs(head, same, y),
                       y.numpy().astype(int))
    assert report['all']['attn_spread'] == 0
    assert any(v.startswith('COLLAPSE attention: attn_spread 0.000')
               for v in verdicts(report))
