"""Device profiles shipped with paidui: one YAML file per model, one folder per kind.

A package only so that an installed paidui finds them (``importlib.resources``).
"""
