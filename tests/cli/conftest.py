"""Fixtures shared by the CLI tests: one SendGrid stand-in per test, serving SendGrid's own spec."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import shared_path
from tests.support.sendgrid_standin import SendGridStandIn

KEY = "SG.cli-secret-key-never-shown"  # a key the tests look for in every file and log the CLI writes


@pytest.fixture
def standin() -> Iterator[SendGridStandIn]:
    """A fresh SendGrid stand-in (no deliveries, no faults) that accepts ``KEY``."""
    with SendGridStandIn(spec=shared_path("sendgrid", "tsg_mail_v3.json"), api_key=KEY) as sg:
        yield sg
