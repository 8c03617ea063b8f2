"""Preview an issue in the browser while composing: a local server, live reload, screenshots.

``server.serve`` runs ``digest preview``; ``screenshot.screenshot_issue`` runs ``--screenshot``;
``page`` holds the pure helpers (paths, colour schemes, merge fields, error locations); ``watch`` the
file watcher and the rebuild worker.
"""
