"""Multi-label inference for marl_mm models (RARL, RARNN, GAP baselines).

mmpretrain's ``ImageClassificationInferencer`` returns the argmax class of
each image (single-label; its open request #1911 asks for multi-label). This
subclass keeps its model building (``mmpretrain.apis.get_model``), test
pipeline, batching, ``rich`` progress bar and ``test_step`` forward, and
replaces what is single-label: the label selection, the returned record and
the drawing (glimpses through :class:`GlimpseVisualizer`).

Example::

    from marl_mm.apis import MultiLabelInferencer
    inferencer = MultiLabelInferencer('rarl_vgg16_voc07',
                                      pretrained='work_dirs/epoch_20.pth')
    result = inferencer('demo.jpg', topk=3, thr=0.1)[0]
    result['scores']      # {'aeroplane': 0.001, ..., 'person': 0.62, ...}
    result['pred_class']  # ['person', 'dog'], highest score first

The images go through the config's test pipeline (for the RARL VOC configs:
resize to 512, centre 448 crop), exactly as ``tools/test.py`` sees them.
"""
import copy
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.image import imread
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.model import BaseModel

from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.registry import TRANSFORMS
from mmpretrain.structures import DataSample

from ..evaluation.metrics.functional import topk_thr_binarize
from ..utils import apply_num_classes, load_checkpoint_checked

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                  '.tiff', '.webp')
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: the source checkout (``configs/`` and ``projects/`` beside the package)
CHECKOUT_DIR = PACKAGE_DIR.parent

ImageInput = Union[str, Path, np.ndarray]
#: the threshold used when no rule is given at all (default chosen here)
DEFAULT_THR = 0.5


def config_roots() -> List[Tuple[Path, Path]]:
    """Where config names are looked up, in order, as ``(folder, prefix)``.

    The installed package's ``.mim/configs`` (``pip install``) and the source
    checkout's ``configs/`` (prefix ``.``: the same config in both counts
    once), then each ``projects/<project>/configs`` of the checkout (prefix
    ``projects/<project>/configs``; projects are not packaged). Folders that
    do not exist are left out.
    """
    roots = [(PACKAGE_DIR / '.mim' / 'configs', Path()),
             (CHECKOUT_DIR / 'configs', Path())]
    roots += [(folder, folder.relative_to(CHECKOUT_DIR)) for folder in
              sorted(CHECKOUT_DIR.glob('projects/*/configs'))]
    return [(folder, prefix) for folder, prefix in roots if folder.is_dir()]


def _config_files(pattern: str = '*') -> Dict[Path, Path]:
    """``{prefix / relative path: path}`` of the configs matching
    ``pattern`` under :func:`config_roots` (``_base_`` skipped; the first
    root wins for a relative path found twice)."""
    found: Dict[Path, Path] = {}
    for root, prefix in config_roots():
        for path in sorted(root.rglob(f'{pattern}.py')):
            rel = path.relative_to(root)
            if '_base_' not in rel.parts:
                found.setdefault(prefix / rel, path)
    return found


def find_config(name: str) -> Path:
    """Path of the config called ``name`` (``'rarl_vgg16_voc07'``).

    Searched recursively under :func:`config_roots`: ``configs/`` and every
    ``projects/*/configs`` (``_base_`` skipped).

    Raises:
        ValueError: no config or more than one config has that name.
    """
    found = _config_files(name)
    if len(found) == 1:
        return next(iter(found.values()))
    if len(found) > 1:
        raise ValueError(f'config name {name!r} is ambiguous: '
                         f'{sorted(str(r) for r in found)}; give a path')
    names = sorted({key.stem for key in _config_files()})
    raise ValueError(f'no config named {name!r} under '
                     f'{[str(r) for r, _ in config_roots()]}; known names: '
                     f'{names}')


def output_names(inputs: Sequence) -> List[str]:
    """One distinct PNG name stem per input, in order.

    A path gives its file stem and anything else (an array) its index in
    ``inputs``; a stem that several inputs share (``a/one.png`` and
    ``b/one.png``, or one file given twice) gets ``_<index>`` appended for
    each of them (``one_0``, ``one_1``), so no drawing overwrites another.
    Names are compared case-insensitively (``One.png`` and ``one.png`` are
    the same file on some file systems).
    """
    stems = [Path(x).stem if isinstance(x, (str, Path)) else str(i)
             for i, x in enumerate(inputs)]
    counts = Counter(stem.lower() for stem in stems)
    taken, names = set(), []
    for i, stem in enumerate(stems):
        name = stem if counts[stem.lower()] == 1 else f'{stem}_{i}'
        while name.lower() in taken:  # e.g. a file really named one_1.png
            name = f'{name}_{i}'
        taken.add(name.lower())
        names.append(name)
    return names


def check_bgr_uint8(image: np.ndarray, where: str) -> None:
    """Refuse an array input that is not a loaded image as mmcv gives it.

    The test pipeline treats an array like ``mmcv.imread``'s output: ``HxWx3``
    ``uint8`` in 0..255, channels **BGR**. A float array (e.g. an RGB image in
    ``[0, 1]`` from matplotlib / PIL / torchvision) would be cast and
    normalised as if it were 0..255 BGR and silently change the predictions,
    so any other dtype is an error. The channel order cannot be checked: an
    RGB ``uint8`` array passes, with its red and blue swapped.

    Args:
        image: the array given to the inferencer.
        where: names it in errors (``'inputs[0]'``).

    Raises:
        ValueError: not ``HxWx3`` or not ``uint8``, with how to convert.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'{where}: expected an HxWx3 BGR uint8 array (as '
                         f'mmcv.imread / cv2.imread give), got shape '
                         f'{image.shape}')
    if image.dtype != np.uint8:
        span = (f' with values in [{float(image.min()):.3g}, '
                f'{float(image.max()):.3g}]' if image.size else '')
        raise ValueError(
            f'{where}: expected an HxWx3 BGR uint8 array (as mmcv.imread / '
            f'cv2.imread give), got dtype {image.dtype}{span}; convert it, '
            'e.g. an RGB float image in [0, 1]: (img * 255).round().clip(0, '
            '255).astype(np.uint8)[..., ::-1], or pass the file path')


def load_class_thresholds(path: Union[str, Path],
                          classes: Sequence[str]) -> np.ndarray:
    """Per-class probability thresholds from a JSON or TXT file.

    Formats (class order free; every class exactly once, nothing else):

    * ``.json``: an object ``{"aeroplane": 0.4, "bicycle": 0.55, ...}``;
    * any other suffix: one ``<class name> <threshold>`` per line (the name
      may contain spaces, the threshold is the last field; blank lines and
      lines starting with ``#`` are skipped).

    Args:
        path: the file.
        classes: the model's class names, in model order.

    Returns:
        ``(D,)`` float array of thresholds in ``classes`` order.

    Raises:
        FileNotFoundError: no such file.
        ValueError: bad syntax, a value outside ``[0, 1]``, a repeated,
            unknown or missing class name.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'class threshold file not found: {path}')
    pairs = []
    if path.suffix.lower() == '.json':
        try:
            data = json.loads(path.read_text(encoding='utf-8'))
        except json.JSONDecodeError as e:
            raise ValueError(f'{path}: not valid JSON ({e})') from e
        if not isinstance(data, dict):
            raise ValueError(f'{path}: expected a JSON object {{class name: '
                             f'threshold}}, got {type(data).__name__}')
        pairs = [(str(k), v, f'key {k!r}') for k, v in data.items()]
    else:
        for n, line in enumerate(path.read_text(encoding='utf-8')
                                 .splitlines(), 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            fields = line.rsplit(None, 1)
            if len(fields) != 2:
                raise ValueError(f'{path}:{n}: expected "<class name> '
                                 f'<threshold>", got {line!r}')
            pairs.append((fields[0], fields[1], f'line {n}'))
    thresholds = {}
    for name, value, where in pairs:
        try:
            thr = float(value)
        except (TypeError, ValueError):
            raise ValueError(f'{path}, {where}: threshold must be a number, '
                             f'got {value!r}') from None
        if not 0. <= thr <= 1.:
            raise ValueError(f'{path}, {where}: threshold of {name!r} must '
                             f'be in [0, 1], got {thr}')
        if name in thresholds:
            raise ValueError(f'{path}, {where}: class {name!r} is given twice')
        thresholds[name] = thr
    unknown = sorted(set(thresholds) - set(classes))
    missing = [c for c in classes if c not in thresholds]
    if unknown or missing or len(thresholds) != len(classes):
        raise ValueError(
            f'{path}: the thresholds must name the model\'s {len(classes)} '
            f'classes exactly once, got {len(thresholds)} names; unknown: '
            f'{unknown}, missing: {missing}')
    return np.array([thresholds[c] for c in classes], dtype=np.float64)


def select_labels(scores: np.ndarray,
                  thr: Optional[float] = None,
                  topk: Optional[int] = None,
                  class_thr: Optional[np.ndarray] = None) -> List[List[int]]:
    """Predicted label set of each image, highest score first.

    The top-k labels (all if ``topk`` is None), and of those the ones with
    probability ``>= thr`` (scalar) or ``>= class_thr[c]`` (per class); the
    same rule as ``MultiLabelTopKMetric`` (ties at the k-th place go to the
    lower class index). An image may get no label.

    Args:
        scores: ``(N, D)`` probabilities.
        thr: one threshold for all classes.
        topk: labels kept per image.
        class_thr: ``(D,)`` per-class thresholds (exclusive with ``thr``).

    Returns:
        one list of class indices per image.
    """
    if thr is not None and class_thr is not None:
        raise ValueError('give thr or class_thr, not both')
    scores = np.asarray(scores, dtype=np.float64)
    if topk is None and thr is None:
        keep = np.ones(scores.shape, dtype=bool)  # (N, D)
    else:
        keep = topk_thr_binarize(scores, topk, thr)  # (N, D)
    if class_thr is not None:
        class_thr = np.asarray(class_thr, dtype=np.float64)
        if class_thr.shape != scores.shape[1:]:
            raise ValueError(f'class_thr has shape {class_thr.shape}, '
                             f'expected ({scores.shape[1]},)')
        keep &= scores >= class_thr[None]
    order = np.argsort(-scores, axis=1, kind='stable')  # (N, D)
    return [[int(c) for c in row if k[c]] for row, k in zip(order, keep)]


class MultiLabelInferencer(ImageClassificationInferencer):
    """Every class's probability and the predicted label set of each image.

    Subclasses mmpretrain's :class:`ImageClassificationInferencer` (model
    building, test pipeline from ``test_dataloader``, batching, progress bar,
    ``model.test_step``); ``pred_scores`` is exactly the model's
    ``pred_score`` (the RARL head's softmax / sigmoid, RARNN's max over
    emitted glimpses, the GAP head's sigmoid).

    Label rules, given to the constructor (defaults) or to a call (then
    they replace the constructor's as a whole):

    * ``thr=0.5``: labels with probability ``>= thr``; this rule with 0.5 is
      used when no rule is given at all;
    * ``topk=3``: the three highest labels;
    * ``topk=3, thr=0.1``: the three highest of those ``>= 0.1`` (RARL COCO);
    * ``class_thr='thr.json'``: labels with probability ``>=`` their own
      threshold (:func:`load_class_thresholds`), optionally with ``topk``
      (not with ``thr``).

    RARL ('squared' / 'soft_ce') and RARNN give softmax-like scores that
    share one unit of mass between the classes: use ``topk`` (with a small
    ``thr``) there; a threshold of 0.5 suits the sigmoid heads ('bce', GAP).

    Args:
        model: a config name found by :func:`find_config`
            (``'rarl_vgg16_voc07'``), a config path, a :class:`Config` or a
            built model.
        pretrained: checkpoint path; ``None`` uses the config's
            ``load_from`` (random weights, with a warning, if that is
            unset too). Every weight of the model must be in it with the
            model's shape, else ``CheckpointMismatchError`` names the file
            and the keys (``marl_mm.utils.load_checkpoint_checked``).
        device: e.g. ``'cuda:0'``; ``None`` keeps the model on the CPU.
        classes: class names; by default from the checkpoint's
            ``dataset_meta``, else the test dataset class's ``METAINFO``,
            else the config's ``test_dataloader.dataset.metainfo``.
        thr: default probability threshold (None; 0.5 if no rule is set).
        topk: default number of labels kept (None: no limit).
        class_thr: default per-class thresholds: a file path or a ``(D,)``
            array.

    Inputs: an image path, a folder (its image files, sorted), an ``HxWx3``
    ``uint8`` array (0..255) in **BGR** channel order, as ``cv2.imread`` /
    ``mmcv.imread`` give (the pipeline treats it like a loaded file), or a
    list of these. Arrays of any other dtype are refused
    (:func:`check_bgr_uint8`): an RGB float image in ``[0, 1]`` was taken
    as 0..255 BGR and gave other labels. The channel order cannot be
    checked: convert an RGB array with ``img[..., ::-1]`` first.

    Returns (per image, from ``__call__``): a dict with ``pred_scores``
    ``(D,)`` array, ``scores`` ``{class: probability}``, ``pred_label``
    (indices), ``pred_class`` (names) and ``pred_score`` (their
    probabilities), highest first, and ``input`` (path or list index).
    ``return_datasamples=True`` gives the model's ``DataSample``s instead,
    with ``pred_label`` set to the label set and, for RARL,
    ``glimpse_scores`` added.

    RARL data samples carry ``glimpse_scores`` ``(T, D)`` from the head
    (``LSTMGlimpseHead.predict``): the probabilities of each step's
    class-wise max over its k regions, so the visualiser can print every
    step's top label.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = {'thr', 'topk', 'class_thr'}
    visualize_kwargs: set = {'show', 'show_dir', 'wait_time'}
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: Union[str, Path, Config, BaseModel],
                 pretrained: Optional[str] = None,
                 device: Union[str, torch.device, None] = None,
                 classes: Optional[Sequence[str]] = None,
                 thr: Optional[float] = None,
                 topk: Optional[int] = None,
                 class_thr: Union[str, Path, np.ndarray, None] = None,
                 **kwargs) -> None:
        if thr is not None and class_thr is not None:
            raise ValueError('MultiLabelInferencer: give thr or class_thr, '
                             'not both')
        if isinstance(model, Path):
            model = str(model)
        if isinstance(model, str):
            if model.endswith('.py'):
                if not Path(model).is_file():
                    raise FileNotFoundError(f'config file not found: {model}')
            else:
                model = str(find_config(model))
            # the config's top-level num_classes, given to head and data
            # preprocessor (marl_mm.utils.apply_num_classes)
            loaded = Config.fromfile(model)
            if apply_num_classes(loaded):
                model = loaded
        elif isinstance(model, Config):
            model = copy.deepcopy(model)
            apply_num_classes(model)
        if pretrained is not None and not Path(pretrained).is_file():
            raise FileNotFoundError(f'checkpoint not found: {pretrained}')
        if pretrained is None:
            cfg = model if isinstance(model, Config) else (
                Config.fromfile(model) if isinstance(model, str) else None)
            pretrained = (cfg.get('load_from', None) if cfg is not None
                          else None) or False
            if pretrained is False and not isinstance(model, BaseModel):
                warnings.warn('MultiLabelInferencer: no checkpoint given and '
                              'the config has no load_from: the model keeps '
                              'its random initial weights')
        # mmpretrain would load with strict=False (a checkpoint of another
        # model keeps random weights where it does not fit): load it here
        # with every weight required (marl_mm.utils.load_checkpoint_checked)
        checkpoint = pretrained if isinstance(pretrained, str) else None
        super().__init__(model=model,
                         pretrained=False if checkpoint else pretrained,
                         device=device, classes=classes, **kwargs)
        if checkpoint is not None:
            meta = load_checkpoint_checked(self.model, checkpoint,
                                           'exact').get('meta', {})
            meta = meta.get('dataset_meta') or (
                {'classes': meta['CLASSES']} if 'CLASSES' in meta else {})
            if meta:  # as mmpretrain's get_model
                self.model._dataset_meta = meta
                if classes is None:
                    self.classes = meta.get('classes')
        if self.classes is None:
            meta = self.config.get('test_dataloader', {}).get(
                'dataset', {}).get('metainfo', None) or {}
            self.classes = meta.get('classes', None)
        if self.classes is not None:
            self.classes = tuple(self.classes)
        self.thr, self.topk = thr, topk
        self.class_thr = self._class_thr(class_thr)

    def __call__(self,
                 inputs,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 **kwargs) -> list:
        """Predict (with mmpretrain's progress bar over the batches).

        Args:
            inputs: a path, a folder, an HxWx3 BGR uint8 array or a list
                of these.
            return_datasamples: return the model's ``DataSample``s.
            batch_size: images per forward pass.
            **kwargs: label rules ``thr`` / ``topk`` / ``class_thr`` (replace
                the constructor's), drawing ``show_dir`` (one PNG per image),
                ``show``, ``wait_time``.

        Returns:
            one dict (or DataSample) per image, in input order (a folder's
            files sorted by name).
        """
        return super().__call__(inputs, return_datasamples=return_datasamples,
                                batch_size=batch_size, **kwargs)

    # --------------------------------------------------------------- rules
    def _class_thr(self, class_thr) -> Optional[np.ndarray]:
        if class_thr is None or isinstance(class_thr, np.ndarray):
            return class_thr
        if self.classes is None:
            raise ValueError('per-class thresholds are matched by class name, '
                             'but the model has no class names: pass '
                             'classes=[...]')
        return load_class_thresholds(class_thr, self.classes)

    # --------------------------------------------------------------- input
    def _inputs_to_list(self, inputs) -> list:
        """Paths, arrays and folders (expanded to their sorted image files)
        as a flat list."""
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        out = []
        for i, item in enumerate(inputs):
            if isinstance(item, Path):
                item = str(item)
            if isinstance(item, str) and Path(item).is_dir():
                files = sorted(str(p) for p in Path(item).iterdir()
                               if p.suffix.lower() in IMG_EXTENSIONS)
                if not files:
                    raise ValueError(f'folder {item} has no image files '
                                     f'({", ".join(IMG_EXTENSIONS)})')
                out += files
            elif isinstance(item, str):
                if not Path(item).is_file():
                    raise FileNotFoundError(f'image not found: {item}')
                out.append(item)
            elif isinstance(item, np.ndarray):
                check_bgr_uint8(item, f'inputs[{i}]')
                out.append(item)
            else:
                raise TypeError(f'inputs[{i}]: expected a path, a folder or '
                                f'an array, got {type(item).__name__}')
        return out

    def _init_pipeline(self, cfg: Config) -> Callable:
        """The config's test pipeline, split into its image loader (kept for
        paths: the config's own checks apply) and the rest."""
        steps = [TRANSFORMS.build(t)
                 for t in cfg.test_dataloader.dataset.pipeline]
        loaders = [t for t in steps if isinstance(t, LoadImageFromFile)]
        self._loader = loaders[0] if loaders else LoadImageFromFile()
        return Compose([t for t in steps
                        if not isinstance(t, LoadImageFromFile)])

    def preprocess(self, inputs: List[ImageInput], batch_size: int = 1):
        """Load (paths through the config's loader), run the rest of the
        test pipeline, collate."""

        def load_image(input_):
            if isinstance(input_, str):
                return self._loader(dict(img_path=input_))
            return dict(img=input_, img_shape=input_.shape[:2],
                        ori_shape=input_.shape[:2])

        pipeline = Compose([load_image, self.pipeline])
        chunks = self._get_chunk_data(map(pipeline, inputs), batch_size)
        yield from map(default_collate, chunks)

    # ------------------------------------------------------------- forward
    @torch.no_grad()
    def forward(self, inputs: dict, **rules) -> List[DataSample]:
        """``model.test_step`` plus the label set.

        ``rules``: the ``thr`` / ``topk`` / ``class_thr`` given to this call;
        they replace the constructor's rules as a whole (``topk=3`` alone
        means top-3, whatever the constructor's ``thr``).
        """
        if not rules:
            rules = dict(thr=self.thr, topk=self.topk,
                         class_thr=self.class_thr)
        thr, topk = rules.get('thr', None), rules.get('topk', None)
        class_thr = self._class_thr(rules.get('class_thr', None))
        if thr is None and topk is None and class_thr is None:
            thr = DEFAULT_THR
        preds = self.model.test_step(inputs)

        scores = torch.stack([p.pred_score.float() for p in preds]).cpu()
        if self.classes is not None and scores.shape[1] != len(self.classes):
            raise ValueError(f'the model predicts {scores.shape[1]} classes '
                             f'but {len(self.classes)} class names are known '
                             f'({self.classes[:3]}...): pass matching '
                             'classes=[...]')
        labels = select_labels(scores.numpy(), thr, topk, class_thr)
        for pred, label in zip(preds, labels):
            pred.set_pred_label(torch.tensor(label, dtype=torch.long))
        return preds

    # ----------------------------------------------------------- visualise
    def visualize(self,
                  ori_inputs: List[ImageInput],
                  preds: List[DataSample],
                  show: bool = False,
                  wait_time: float = 0,
                  show_dir: Optional[str] = None) -> Optional[list]:
        """Draw labels and glimpses on the original images (RGB arrays); save
        ``show_dir/<name>.png`` with the names of :func:`output_names`
        (the image stem, ``<index>`` for arrays, ``<stem>_<index>`` where
        inputs share a stem)."""
        if not show and show_dir is None:
            return None
        from ..visualization import GlimpseVisualizer
        if self.visualizer is None:
            self.visualizer = GlimpseVisualizer()
        drawn = []
        for input_, pred, name in zip(ori_inputs, preds,
                                      output_names(ori_inputs)):
            image = imread(input_)[..., ::-1]  # BGR -> RGB
            out_file = None
            if show_dir is not None:
                Path(show_dir).mkdir(parents=True, exist_ok=True)
                out_file = str(Path(show_dir) / f'{name}.png')
            drawn.append(self.visualizer.visualize_cls(
                image, pred, classes=self.classes, draw_gt=False,
                show=show, wait_time=wait_time, out_file=out_file,
                name=name))
        return drawn

    # --------------------------------------------------------- postprocess
    def postprocess(self,
                    preds: List[DataSample],
                    visualization: Optional[list],
                    return_datasamples: bool = False) -> list:
        """One plain dict per image (see the class docstring)."""
        if return_datasamples:
            return preds
        names = self.classes or tuple(
            str(c) for c in range(preds[0].pred_score.numel()))
        results = []
        for i, pred in enumerate(preds):
            scores = pred.pred_score.detach().float().cpu().numpy()
            label = pred.pred_label.tolist()
            results.append({
                'input': pred.get('img_path', i),
                'pred_scores': scores,
                'scores': {n: float(s) for n, s in zip(names, scores)},
                'pred_label': label,
                'pred_class': [names[c] for c in label],
                'pred_score': [float(scores[c]) for c in label],
            })
        return results

    @staticmethod
    def list_models(pattern: Optional[str] = None) -> List[str]:
        """Config names usable as ``model`` (``fnmatch`` pattern), from
        ``configs/`` and ``projects/*/configs``."""
        from fnmatch import fnmatch
        names = sorted({key.stem for key in _config_files()})
        return [n for n in names if pattern is None or fnmatch(n, pattern)]
