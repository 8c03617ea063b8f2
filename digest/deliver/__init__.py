"""Delivery: recipients, the send journal, and the backends (outbox, SMTP, SendGrid) behind one Protocol."""
