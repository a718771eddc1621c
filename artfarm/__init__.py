"""artfarm: a picture book written as data, rendered into print-ready art and PDFs."""

__version__ = "0.1.0"
