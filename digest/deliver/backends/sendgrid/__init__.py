"""The SendGrid backend (v3 Mail Send): ``body`` (pure request bodies), ``rows`` (the fast row path),
``client`` (HTTP with retries), ``schedule`` (scheduled sends), ``suppressions`` (pulling SendGrid's lists),
``backend`` (the ``Backend`` itself and the registry's ``create``)."""

from .backend import SendGridBackend, batch_size, create, own_unsubscribe, preflight

__all__ = ["SendGridBackend", "batch_size", "create", "own_unsubscribe", "preflight"]
