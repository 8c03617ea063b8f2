"""Article images for the email: absolute https URLs only.

An https URL is used as is. A local image is copied into ``build/images/`` (resized to at most
``MAX_WIDTH`` pixels wide, with its real width and height) and served from ``images_base_url``; without
that setting, or for any other kind of value (http, data:, a missing file), the article goes without an
image and the build says why. The email never points at a local path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

MAX_WIDTH = 1200  # pixels stored (2x the 600 px layout for sharp images on high-density screens)
DISPLAY_WIDTH = 536  # the content column: 600 px less 2 x 32 px padding


@dataclass
class ImageRef:
    """An image the email can show: https ``src`` and, when known, its display size."""

    src: str
    width: int | None = None  # display width in CSS pixels
    height: int | None = None
    local: Path | None = None  # the copy in build/images, when the source was a local file
    bytes: int | None = None


def is_https(value: str) -> bool:
    parts = urlsplit(value.strip())
    return parts.scheme.lower() == "https" and bool(parts.netloc)


def display_size(width: int, height: int) -> tuple[int, int]:
    """Width and height in CSS pixels within the content column, keeping the aspect ratio."""
    shown = min(width, DISPLAY_WIDTH)
    return shown, max(1, round(height * shown / width))


def resolve_image(value: str | None, *, base: Path | None, build_dir: Path,
                  images_base_url: str) -> tuple[ImageRef | None, str | None]:
    """The image for ``value`` (URL or path; a relative path is taken from ``base``), or None and why."""
    if not value or not value.strip():
        return None, None
    value = value.strip()
    scheme = urlsplit(value).scheme.lower()
    if scheme == "https":
        return (ImageRef(value), None) if is_https(value) else (None, f"image {value!r} is not a valid URL")
    if scheme in ("http",):
        return None, f"image {value} is not https: left out"
    if len(scheme) > 1 and scheme != "file":  # data:, ftp:, javascript: ... (one letter: a Windows drive)
        return None, f"image {value[:60]!r} is not an https URL: left out"
    path = Path(value.removeprefix("file://")).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.is_file():
        return None, f"image {path} not found: left out"
    if not images_base_url.strip():
        return None, (f"image {path} is a local file and newsletter.images_base_url is not set in digest.toml: "
                      "left out (set it to where build/images/ is published)")
    try:
        ref = copy_local_image(path, build_dir / "images")
    except (OSError, ValueError) as exc:
        return None, f"image {path} could not be read ({exc}): left out"
    ref.src = images_base_url.rstrip("/") + "/" + ref.local.name if ref.local else ref.src
    if not is_https(ref.src):
        return None, f"newsletter.images_base_url {images_base_url!r} is not https: image {path} left out"
    return ref, None


EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}  # formats mail clients show
JPEG_QUALITY = 85
_ORIENTATION = 0x0112  # the EXIF Orientation tag


def copy_local_image(path: Path, out_dir: Path) -> ImageRef:
    """Copy ``path`` into ``out_dir``, named by content hash with its format's extension.

    A JPEG stays JPEG (quality 85 when it has to be written again), a PNG stays PNG, GIF and WebP keep their
    format; other formats (TIFF, BMP...) become PNG. An image wider than MAX_WIDTH is resized, and an EXIF
    orientation is applied to the pixels (mail clients ignore the tag). An image that needs neither is
    copied byte for byte.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    raw = path.read_bytes()
    digest = hashlib.sha1(raw).hexdigest()[:16]
    try:
        with Image.open(path) as source:
            fmt = (source.format or "").upper()  # read before exif_transpose, whose copy has no format
            rotate = source.getexif().get(_ORIENTATION, 1) not in (1, None)
            img = ImageOps.exif_transpose(source) if rotate else source
            width, height = img.size
            rewrite = rotate
            if width > MAX_WIDTH:
                height = max(1, round(height * MAX_WIDTH / width))
                width = MAX_WIDTH
                img = img.resize((width, height), Image.Resampling.LANCZOS)
                rewrite = True
            ext = EXTENSIONS.get(fmt)
            if ext is None:
                ext, fmt, rewrite = "png", "PNG", True
            out_dir.mkdir(parents=True, exist_ok=True)
            target = out_dir / f"{digest}.{ext}"
            if rewrite:
                options: dict[str, object] = {"optimize": True}
                if fmt == "JPEG":
                    options["quality"] = JPEG_QUALITY
                    if img.mode not in ("RGB", "L"):
                        img = img.convert("RGB")
                img.save(target, fmt, **options)
            else:
                target.write_bytes(raw)
    except UnidentifiedImageError as exc:
        raise ValueError("not an image") from exc
    shown_w, shown_h = display_size(width, height)
    return ImageRef(src=target.name, width=shown_w, height=shown_h, local=target, bytes=target.stat().st_size)
