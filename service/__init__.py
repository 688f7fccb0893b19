"""Sanctions and export-control screening for the Iran-Russia drone supply chain."""

__version__ = "0.1.0"
