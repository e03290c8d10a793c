"""An example paidui driver package: 'Acme ASCII' LED window boards (see README.md)."""
