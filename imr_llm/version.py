"""The package version, kept in one place (cache keys and run records carry it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("imr-llm")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.1.0"
