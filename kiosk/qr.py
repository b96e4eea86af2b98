"""QR codes as inline SVG (rendered on the server: no QR library in the browser, no CDN)."""

from __future__ import annotations

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M


def qr_svg(data: str) -> str:
    """An SVG document of ``data`` as a QR code (error correction M, 2-module quiet zone)."""
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M,
        border=2,
        image_factory=qrcode.image.svg.SvgPathImage,
    )
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().to_string(encoding="unicode")
