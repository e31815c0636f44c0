"""The site's face: its icon and logo in the sizes feeds, readers and browsers ask for.

``[site] icon`` and ``logo`` name images under the project (any format Pillow
reads); without them the bundled ones in ``feedd/images/`` are used. Each is
published as PNG at fixed names, so feeds and pages link the same URLs
whatever the source, and a new icon changes image files, not feeds.
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib import resources
from pathlib import Path

ICON = "icon.png"  # 512×512: Atom <icon>, JSON Feed icon, apple-touch-icon
FAVICON_PNG = "icon-64.png"  # 64×64: JSON Feed favicon, the pages' <link rel=icon>
RSS_IMAGE = "icon-144.png"  # RSS 2.0 <image> is at most 144 pixels wide
RSS_IMAGE_SIZE = 144
FAVICON = "favicon.ico"  # 16, 32 and 48 pixels, for whoever asks for /favicon.ico
LOGO = "logo.png"  # Atom <logo>: about 2:1, at most 400×200


def source_bytes(root: Path, configured: str, bundled: str) -> bytes:
    """The configured image (a path under the project root), or the bundled one."""
    if configured:
        return (root / configured).read_bytes()
    return resources.files("feedd").joinpath("images", bundled).read_bytes()


def check(path: Path) -> str | None:
    """Why ``path`` cannot be the site's image, or None."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except FileNotFoundError:
        return "no such file"
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        return f"not an image Pillow can read ({exc.__class__.__name__})"
    return None


def site_images(icon: bytes, logo: bytes) -> dict[str, bytes]:
    """Every published image, by its name under feeds/ (pure: the same bytes give the same files)."""
    return dict(_images(icon, logo))


@lru_cache(maxsize=2)
def _images(icon: bytes, logo: bytes) -> tuple[tuple[str, bytes], ...]:
    from PIL import Image

    square = _square(_opened(icon))
    out = {
        ICON: _png(square.resize((512, 512), Image.LANCZOS)),
        FAVICON_PNG: _png(square.resize((64, 64), Image.LANCZOS)),
        RSS_IMAGE: _png(square.resize((RSS_IMAGE_SIZE, RSS_IMAGE_SIZE), Image.LANCZOS)),
    }
    buffer = io.BytesIO()
    square.save(buffer, format="ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    out[FAVICON] = buffer.getvalue()
    wide = _opened(logo)
    wide.thumbnail((400, 200), Image.LANCZOS)  # never enlarged
    out[LOGO] = _png(wide)
    return tuple(out.items())


def _opened(data: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGBA")


def _square(image):
    """Centred on a transparent square: feed readers show icons square."""
    from PIL import Image

    side = max(image.size)
    if image.width == image.height:
        return image
    canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
