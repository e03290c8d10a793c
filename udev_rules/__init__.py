"""udev rules that give paidui's devices stable names; ``paidui install`` writes them.

A package only so that an installed paidui finds them (``importlib.resources``).
"""
