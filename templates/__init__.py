"""The default digest theme (Jinja2 templates), shipped inside the wheel as ``digest.theme``."""
