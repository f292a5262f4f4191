"""Keyword search over active jobs: the words, the page size and the cursor.

How it is stored (see store.py): every active job row carries
`search_words`, the set of words of its title, description and skills,
folded to lower case without accents. A storage-attached index (SAI) on the
values of that set answers `search_words CONTAINS ?` for each query word,
intersected by the index, so a search reads only matching rows and never
scans the table. Accepting a proposal clears the set in the same conditional
write that closes the job, so a closed job leaves the index at once.

Why this and not the alternatives:
- Cassandra 5.0's SAI has no text analyzers (`index_analyzer` is not in the
  open-source 5.0 line) and SASI, which did substrings, is deprecated and off
  in our config. Folding words in Python gives the same behaviour on index
  and query side, under our control, with one index the database maintains.
- A hand-kept (word, job) table would need a write per word on create and a
  delete per word on acceptance, with no atomicity between them.

Semantics: a job matches when it has every word of the query, whole words,
case- and accent-insensitive (API.md's Orig matched substrings; keyword
matching is the documented Rec of this brief). Words are runs of letters,
digits and `_`; anything else separates words, so `%` and `_` are never
wildcards. A query without any word is a 400.

Pages follow the partitioner's token order. The cursor is the token of the
last job shown, and the next page asks for `token(id) > cursor`, so paging
to the end shows every match exactly once (ids are UUIDs: two sharing a
64-bit token is not a practical concern). The cursor is our own small
format, never the driver's paging state, because Cassandra drops the whole
connection when it is handed a damaged paging state.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import unicodedata
from collections.abc import Iterable

from common.errors import BadRequest

#: Largest `pageLimit` a search accepts (API.md R36; B9 makes bad ones 400).
MAX_PAGE_LIMIT = 100
#: Most distinct words one query may have: each is one index lookup.
MAX_QUERY_WORDS = 8
#: Longest query text accepted, in characters.
MAX_QUERY_CHARS = 200
#: Where the first page starts: below every Murmur3 token.
FIRST_TOKEN = -(2**63)

_WORD = re.compile(r"\w+")
_CURSOR_PREFIX = b"j1"
_CURSOR = struct.Struct(">q")


def fold(text: str) -> str:
    """Lower case without accents, so "Café" and "cafe" are one word."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.casefold()


def words_of(texts: Iterable[str | None]) -> frozenset[str]:
    """The searchable words of a job's title, description and skills."""
    found: set[str] = set()
    for text in texts:
        if text:
            found.update(_WORD.findall(fold(text)))
    return frozenset(found)


def query_words(query: str) -> frozenset[str]:
    """The words a query asks for.

    Raises:
        BadRequest: the query is too long, has no word, or too many words.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(f"query must be at most {MAX_QUERY_CHARS} characters")
    words = words_of([query])
    if not words:
        raise BadRequest("query must contain at least one letter or digit")
    if len(words) > MAX_QUERY_WORDS:
        raise BadRequest(f"query may contain at most {MAX_QUERY_WORDS} words")
    return words


def checked_page_limit(page_limit: int) -> int:
    """Raises BadRequest unless 1 <= page_limit <= MAX_PAGE_LIMIT."""
    if not 1 <= page_limit <= MAX_PAGE_LIMIT:
        raise BadRequest(f"pageLimit must be between 1 and {MAX_PAGE_LIMIT}")
    return page_limit


def encode_cursor(token: int) -> str:
    raw = _CURSOR_PREFIX + _CURSOR.pack(token)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The token a page ended at; FIRST_TOKEN for an empty cursor.

    Raises:
        BadRequest: the text is not a cursor this service handed out.
    """
    if not cursor:
        return FIRST_TOKEN
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    if len(raw) != len(_CURSOR_PREFIX) + _CURSOR.size:
        raise _bad_cursor()
    if not raw.startswith(_CURSOR_PREFIX):
        raise _bad_cursor()
    (token,) = _CURSOR.unpack(raw[len(_CURSOR_PREFIX) :])
    return int(token)


def _bad_cursor() -> BadRequest:
    return BadRequest("pagingState is not a cursor from a previous page")
