"""mosquitto settings for the demo and production halls, with the ACL template.

A package only so that an installed paidui finds them (``importlib.resources``).
"""
