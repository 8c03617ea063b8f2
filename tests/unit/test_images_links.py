"""Local images keep their format (JPEG stays JPEG, PNG stays PNG) with the right extension and EXIF
orientation applied; UTM tagging only appends to a query string, byte for byte."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from digest.compose.images import JPEG_QUALITY, MAX_WIDTH, copy_local_image
from digest.compose.links import add_utm

UTM = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "week-48"}
TAIL = "utm_source=newsletter&utm_medium=email&utm_campaign=week-48"


def _photo(size: tuple[int, int]) -> Image.Image:
    img = Image.new("RGB", size)
    img.putdata([((x * 7) % 256, (y * 5) % 256, (x + y) % 256) for y in range(size[1]) for x in range(size[0])])
    return img


def _jpeg(path: Path, size: tuple[int, int], orientation: int | None = None) -> Path:
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    _photo(size).save(path, "JPEG", quality=95, exif=exif.tobytes())
    return path


def _quality_tables(quality: int) -> dict[int, list[int]]:
    buf = io.BytesIO()
    _photo((16, 16)).save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).quantization


def test_rotated_jpeg_stays_jpeg_upright_with_jpg_extension(tmp_path: Path) -> None:
    src = _jpeg(tmp_path / "phone.jpg", (300, 200), orientation=6)  # stored sideways: shown 200 x 300
    ref = copy_local_image(src, tmp_path / "out")
    assert ref.local is not None and ref.local.suffix == ".jpg"
    data = ref.local.read_bytes()
    assert data[:3] == b"\xff\xd8\xff"  # JPEG bytes, not PNG
    with Image.open(ref.local) as out:
        assert out.format == "JPEG" and out.size == (200, 300)
        assert out.getexif().get(0x0112, 1) == 1  # orientation applied to the pixels, not left to the client
        assert out.quantization == _quality_tables(JPEG_QUALITY)
    assert (ref.width, ref.height) == (200, 300)


def test_wide_jpeg_is_resized_as_jpeg_not_png(tmp_path: Path) -> None:
    src = _jpeg(tmp_path / "wide.jpeg", (2400, 600))
    ref = copy_local_image(src, tmp_path / "out")
    assert ref.local is not None and ref.local.suffix == ".jpg"
    with Image.open(ref.local) as out:
        assert out.format == "JPEG" and out.size == (MAX_WIDTH, 300)
        assert out.quantization == _quality_tables(JPEG_QUALITY)


def test_small_upright_jpeg_and_png_are_copied_byte_for_byte(tmp_path: Path) -> None:
    jpg = _jpeg(tmp_path / "small.jpg", (120, 80))
    png = tmp_path / "chart.png"
    _photo((120, 80)).save(png, "PNG")
    for src, ext in ((jpg, ".jpg"), (png, ".png")):
        ref = copy_local_image(src, tmp_path / "out")
        assert ref.local is not None and ref.local.suffix == ext
        assert ref.local.read_bytes() == src.read_bytes()


def test_wide_png_stays_png(tmp_path: Path) -> None:
    png = tmp_path / "wide.png"
    _photo((1600, 400)).save(png, "PNG")
    ref = copy_local_image(png, tmp_path / "out")
    assert ref.local is not None and ref.local.suffix == ".png"
    assert ref.local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(ref.local) as out:
        assert out.size == (MAX_WIDTH, 300)


def test_bmp_becomes_png(tmp_path: Path) -> None:
    bmp = tmp_path / "old.bmp"
    _photo((40, 30)).save(bmp, "BMP")
    ref = copy_local_image(bmp, tmp_path / "out")
    assert ref.local is not None and ref.local.suffix == ".png"
    assert ref.local.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("url", "want"), [
    ("https://e.org/p?q=a%20b", f"https://e.org/p?q=a%20b&{TAIL}"),
    ("https://e.org/p?preview", f"https://e.org/p?preview&{TAIL}"),
    ("https://e.org/p?b=2&a=1&b=3", f"https://e.org/p?b=2&a=1&b=3&{TAIL}"),
    ("https://e.org/p?q=caf%C3%A9+x&s=%2F", f"https://e.org/p?q=caf%C3%A9+x&s=%2F&{TAIL}"),
    ("https://e.org/p", f"https://e.org/p?{TAIL}"),
    ("https://e.org/p?", f"https://e.org/p?{TAIL}"),
    ("https://e.org/p?x=1&", f"https://e.org/p?x=1&{TAIL}"),
    ("https://e.org/p?x=1#top", f"https://e.org/p?x=1&{TAIL}#top"),
    ("https://e.org/p#a?b", f"https://e.org/p?{TAIL}#a?b"),
])
def test_utm_only_appends_and_keeps_the_query_byte_for_byte(url: str, want: str) -> None:
    assert add_utm(url, UTM) == want


def test_utm_parameter_already_present_is_kept_and_not_repeated() -> None:
    url = "https://e.org/p?utm_source=mine&x=a%20b"
    assert add_utm(url, UTM) == url + "&utm_medium=email&utm_campaign=week-48"
    assert add_utm("mailto:a@example.org", UTM) == "mailto:a@example.org"
