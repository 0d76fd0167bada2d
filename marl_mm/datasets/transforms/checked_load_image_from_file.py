"""Image loading that names the file on failure and always gives 3-channel
uint8 images (the input every marl_mm model expects)."""
import io
from typing import Optional

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.fileio import get
from mmengine.logging import MMLogger

from mmpretrain.registry import TRANSFORMS

ON_ERROR_MODES = ('raise', 'skip')

#: default pixel limit (width * height): 2**28 = 268 Mpx, about 800 MB as a
#: 3-channel uint8 array (default chosen here; OpenCV itself refuses more
#: than 2**30 pixels).
MAX_PIXELS = 2**28


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with clear errors and normalised images.

    Reading and decoding are mmcv's (``mmengine.fileio.get`` and
    ``mmcv.imfrombytes``, OpenCV by default, BGR order), with
    ``color_type='color'`` by default, which already decodes grayscale,
    palette, RGBA, CMYK JPEG and 16-bit images to 3-channel uint8 BGR
    (OpenCV: alpha dropped, not composited; 16 bit -> 8 bit by ``v >> 8``;
    CMYK as Pillow converts it).
    This class adds:

    * errors that name the file and say what was expected, where the parent
      raises a bare ``AssertionError`` (undecodable), an OpenCV
      ``cv2.error`` deep in ``imdecode`` (zero-byte file) or a plain
      ``FileNotFoundError``:

      - missing file -> ``FileNotFoundError``;
      - zero-byte file -> ``ValueError``;
      - a JPEG cut short (no end-of-image marker after its last scan;
        some OpenCV builds decode the part that is there without an
        error) -> ``ValueError``;
      - bytes that do not decode (corrupt, truncated, not an image) ->
        ``ValueError``;
      - more than ``max_pixels`` pixels (read from the header, before
        decoding) -> ``ValueError``;

    * a final normalisation whatever ``color_type`` / ``imdecode_backend``
      gave: a 2-D image is repeated to 3 channels, a 4th (alpha) channel is
      dropped, 16-bit integers are mapped to 8 bits by ``v >> 8`` (as
      OpenCV does), floats in [0, 1] are scaled by 255; anything else (e.g.
      2 channels) raises ``ValueError`` naming the file.

    ``on_error='skip'`` turns those ``ValueError`` / ``FileNotFoundError``
    into a logged warning naming the file, and returns ``None``; mmengine's
    ``BaseDataset`` then draws another image in training (and raises in
    test mode, where every image must be evaluated). Default: ``'raise'``.

    Args:
        on_error: ``'raise'`` (default) or ``'skip'``.
        max_pixels: the largest ``width * height`` accepted (default
            ``2**28``); ``None`` for no limit.
        **kwargs: the arguments of mmcv's ``LoadImageFromFile``
            (``to_float32``, ``color_type``, ``imdecode_backend``,
            ``backend_args``). ``ignore_empty`` is not accepted: use
            ``on_error='skip'``, which logs.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 max_pixels: Optional[int] = MAX_PIXELS,
                 **kwargs) -> None:
        if on_error not in ON_ERROR_MODES:
            raise ValueError(f'CheckedLoadImageFromFile: on_error must be '
                             f'one of {ON_ERROR_MODES}, got {on_error!r}')
        if 'ignore_empty' in kwargs:
            raise ValueError(
                "CheckedLoadImageFromFile: use on_error='skip' instead of "
                'ignore_empty (which skips images without saying so)')
        if max_pixels is not None and (not isinstance(max_pixels, int)
                                       or max_pixels <= 0):
            raise ValueError('CheckedLoadImageFromFile: max_pixels must be a '
                             f'positive int or None, got {max_pixels!r}')
        super().__init__(**kwargs)
        self.on_error = on_error
        self.max_pixels = max_pixels

    def transform(self, results: dict) -> Optional[dict]:
        """Load ``results['img_path']``; see the class docstring.

        Args:
            results: must hold ``img_path``.

        Returns:
            ``results`` with ``img`` (H, W, 3) uint8 (float32 if
            ``to_float32``), ``img_shape`` and ``ori_shape``; ``None`` if the
            image failed and ``on_error='skip'``.
        """
        filename = results['img_path']
        try:
            img = self._load(filename)
        except (FileNotFoundError, ValueError) as e:
            if self.on_error == 'raise':
                raise
            MMLogger.get_current_instance().warning(
                f'CheckedLoadImageFromFile: skipped {filename}: {e}')
            return None
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def _load(self, filename: str) -> np.ndarray:
        """Read, check, decode and normalise one image."""
        try:
            img_bytes = get(filename, backend_args=self.backend_args)
        except FileNotFoundError as e:
            raise FileNotFoundError(
                f'image file {filename} not found (named by the dataset\'s '
                'annotation file; check data_root and data_prefix)') from e
        if len(img_bytes) == 0:
            raise ValueError(f'image file {filename} is empty (0 bytes); '
                             'expected an encoded image (JPEG, PNG, ...)')
        _check_jpeg_complete(img_bytes, filename)
        self._check_size(img_bytes, filename)
        try:
            img = mmcv.imfrombytes(
                img_bytes, flag=self.color_type, backend=self.imdecode_backend)
        except Exception as e:  # decoders raise many types
            raise ValueError(f'image file {filename} could not be decoded '
                             f'({type(e).__name__}: {e})') from e
        if img is None:
            raise ValueError(
                f'image file {filename} could not be decoded: corrupt, '
                'truncated, or not an image format OpenCV reads '
                f'({len(img_bytes)} bytes starting {img_bytes[:8]!r})')
        return _to_uint8_3ch(img, filename)

    def _check_size(self, img_bytes: bytes, filename: str) -> None:
        """Refuse images above ``max_pixels`` from their header alone."""
        if self.max_pixels is None:
            return
        from PIL import Image
        try:
            with Image.open(io.BytesIO(img_bytes)) as im:  # header only
                width, height = im.size
        except Exception:  # a format Pillow does not know: let cv2 try
            return
        if width * height > self.max_pixels:
            raise ValueError(
                f'image file {filename} is {width} x {height} = '
                f'{width * height} pixels, more than max_pixels = '
                f'{self.max_pixels}; downscale it or raise max_pixels of '
                'CheckedLoadImageFromFile')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'max_pixels={self.max_pixels}, '
                f'to_float32={self.to_float32}, '
                f'color_type={self.color_type!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'backend_args={self.backend_args})')


def _check_jpeg_complete(img_bytes: bytes, filename: str) -> None:
    """A JPEG must have an end-of-image marker after its last scan.

    Entropy-coded data never holds ``FF DA`` (start of scan) or ``FF D9``
    (end of image) since encoders stuff every ``FF`` byte, so "no EOI after
    the last SOS" means the file was cut short. Bytes after the EOI are
    allowed (some cameras pad files).
    """
    if img_bytes[:2] != b'\xff\xd8':  # not a JPEG
        return
    last_scan = img_bytes.rfind(b'\xff\xda')
    if img_bytes.rfind(b'\xff\xd9') < last_scan or last_scan < 0:
        raise ValueError(
            f'image file {filename} is a truncated or corrupt JPEG (no '
            'end-of-image marker after its image data); expected a complete '
            'file')


def _to_uint8_3ch(img: np.ndarray, filename: str) -> np.ndarray:
    """Normalise a decoded image to (H, W, 3) uint8; see the class doc."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(
            f'image file {filename} decoded to shape {img.shape}; expected '
            '(H, W) or (H, W, 1 | 3 | 4)')
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]  # alpha dropped, as OpenCV's colour decode does
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype.kind == 'f':
        if not (np.isfinite(img).all() and img.min() >= 0
                and img.max() <= 1):
            raise ValueError(f'image file {filename} decoded to floats '
                             'outside [0, 1] (or NaN / inf); expected '
                             'values in [0, 1]')
        img = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f'image file {filename} decoded to dtype '
                         f'{img.dtype}; expected uint8, uint16 or float')
    return np.ascontiguousarray(img)
