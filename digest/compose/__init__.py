"""Compose an issue: issue.toml, rendering, CSS inlining, the MIME draft and the pre-send check."""
