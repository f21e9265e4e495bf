"""How a DCSA Track & Trace feed is read page by page, by default: the figures the resolver's
command line shows without loading the HTTP client the feed itself needs."""

from typing import Final

DEFAULT_PAGE_SIZE: Final = 250  # events asked per page
DEFAULT_MAX_PAGES: Final = 40  # pages read for one question at most; more: a partial answer
