"""The desktop app: a thin Qt layer over ``core``."""
