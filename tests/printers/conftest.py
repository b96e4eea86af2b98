# ruff: noqa: RUF001 - Chinese full-width punctuation is intended
"""Fixtures for the printers tests: sample documents, socat pty pairs, fake printers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from printers.emulator import NetworkPrinter, PrinterEmulator
from printers.layouts import LabLine, LabSlip, TicketSlip

from .fakes import SocatPair, serial_fake

FOLLOW_URL = "http://192.168.10.5:8000/follow/Zq3kV9pXw2LmN8rT5yHc"


@pytest.fixture
def ticket() -> TicketSlip:
    return TicketSlip(
        hospital_zh="北京协和医院",
        hospital_en="Peking Union Medical College Hospital",
        service_zh="抽血",
        service_en="Blood draw",
        number="A012",
        people_ahead=3,
        estimated_wait_min=15,
        issued_at=datetime(2024, 5, 1, 9, 30),
        follow_url=FOLLOW_URL,
        location_zh="门诊楼一层",
        location_en="Ground floor",
        hint_zh="请留意叫号屏幕，过号需重新排队。",
        hint_en="Watch the screen; a missed call goes to the back.",
    )


@pytest.fixture
def lab_slip() -> LabSlip:
    return LabSlip(
        hospital_zh="北京协和医院",
        patient_masked="张*三",
        specimen_id="S2405010001",
        barcode="2405010001",
        report_time=datetime(2024, 5, 1, 10, 0),
        lines=[
            LabLine("WBC", "白细胞计数", "11.2", "10^9/L", "3.5-9.5", "H"),
            LabLine("GLU", "葡萄糖", "5.1", "mmol/L", "3.9-6.1"),
            LabLine("HGB", "血红蛋白浓度测定值（长名）", "98", "g/L", "130-175", "L"),
        ],
        printed_at=datetime(2024, 5, 1, 10, 40),
    )


@pytest.fixture
def socat_pair(tmp_path: Path) -> Iterator[SocatPair]:
    pair = SocatPair(tmp_path)
    yield pair
    pair.close()


@pytest.fixture
def serial_printer(socat_pair: SocatPair) -> Iterator[tuple[PrinterEmulator, str]]:
    """An emulated printer on the device end; yields it and the host-side serial:// path."""
    fake, port = serial_fake(socat_pair)
    yield fake, str(socat_pair.host)
    fake.close()
    port.close()


@pytest.fixture
def tcp_printer() -> Iterator[NetworkPrinter]:
    server = NetworkPrinter(keep=None)
    yield server
    server.close()
