"""The package version, kept in the bottom layer so that run directories can record it."""

__version__ = "0.1.0"
