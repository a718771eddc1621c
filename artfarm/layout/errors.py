"""The layout's own errors, each a leaf of artfarm's one error tree."""

from __future__ import annotations

from artfarm.errors import BadInputError


class MissingArtError(BadInputError):
    """A page has no final art and --placeholders was not given."""


class TextOverflowError(BadInputError):
    """A page's text does not fit its box even at the minimum size."""


class UnknownFontError(BadInputError):
    """book.yaml names a font that is neither shipped nor a file in the book."""


class PreflightFailed(BadInputError):
    """A print rule is broken badly enough that the PDF would be refused or look wrong."""
