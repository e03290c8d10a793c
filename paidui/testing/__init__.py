"""Conformance kits for device drivers: what a plug-in must pass, run from its own tests.

Test code only (it starts a broker, a scheduler and emulators); nothing at run time
imports it.
"""
