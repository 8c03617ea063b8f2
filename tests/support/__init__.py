"""Fakes and stand-ins the tests (and benchmarks/send.py) share, imported one way: ``from tests.support.X import``.

- ``sendgrid_standin``: a local SendGrid v3 stand-in (127.0.0.1, HTTP/1.1 keep-alive) with scripted faults;
  also runs as its own process (``python tests/support/sendgrid_standin.py --light``);
- ``prism``: Prism mocking one of SendGrid's official specs;
- ``smtpserver``: a real SMTP server (aiosmtpd) recording what it accepts, with scripted faults;
- ``newsletter``: a small built newsletter (digest.toml + one issue) copied per test, and a recipients CSV writer.
"""
