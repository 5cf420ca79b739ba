"""The package version: one place, read by the build (pyproject.toml) and recorded in each run's metrics."""

__version__ = "0.1.0"
