"""Header containers: :class:`CaseInsensitiveDict` for requests, :class:`ResponseHeaders`.

:class:`ResponseHeaders` reads like the :class:`email.message.Message` that
dugong 3.x returned (``headers['Content-Type']`` is ``None`` when absent,
``get_all``, ``items``, iteration over the field names, ``in``), but it is a
plain list of fields with a parallel list of lower-cased names, so lookups are
C-speed list scans and nothing is parsed twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Final, TypeVar, overload

__all__ = ["CaseInsensitiveDict", "ResponseHeaders", "TCHAR", "FIELD_VALUE_BAD", "validate_field"]

#: RFC 9110 section 5.6.2: tchar, the characters of a token (e.g. a field name).
TCHAR: Final = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Control characters other than HTAB may not appear in a field value we send.
FIELD_VALUE_BAD: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

_D = TypeVar("_D")


class CaseInsensitiveDict(MutableMapping[str, str]):
    """A dict of header fields whose keys compare case-insensitively.

    The case of the most recently set key is preserved for iteration, so
    ``CaseInsensitiveDict({'content-TYPE': 'x'})`` iterates as
    ``'content-TYPE'`` but ``d['Content-Type']`` finds it.

    Args:
        data: initial fields, a mapping or an iterable of ``(name, value)``.
        **kwargs: more initial fields.
    """

    __slots__ = ("_store",)

    def __init__(
        self,
        data: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        **kwargs: str,
    ) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        if data is not None:
            self.update(data)
        self.update(kwargs)

    def __setitem__(self, key: str, value: str) -> None:
        self._store[key.lower()] = (key, value)

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._store[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._store.values())

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def lower_items(self) -> Iterator[tuple[str, str]]:
        """Iterate over ``(lower-cased name, value)`` pairs."""
        return ((lower, pair[1]) for lower, pair in self._store.items())

    def copy(self) -> CaseInsensitiveDict:
        """Return a shallow copy."""
        return CaseInsensitiveDict(self._store.values())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self.lower_items()) == dict(CaseInsensitiveDict(other).lower_items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class ResponseHeaders:
    """The header fields of a response, in the order received.

    Repeated fields are kept.  Name lookups are case-insensitive.  Values are
    ``str``, decoded as ISO-8859-1 (every byte maps to one character), with
    surrounding whitespace removed and obsolete line folding replaced by a
    space (RFC 9112 section 5.2).  It cannot be changed, so responses with
    the very same head share one.

    Args:
        fields: ``(name, value)`` pairs as received.
        lower_names: the names lower-cased, parallel to *fields*; computed
            when not given.
    """

    # Parallel tuples of strings rather than a list of pairs: the garbage
    # collector stops tracking a tuple of strings after its first look, so a
    # response kept while thousands of connections wait costs it one object.
    __slots__ = ("_names", "_values", "_lower")

    def __init__(self, fields: Iterable[tuple[str, str]], lower_names: Iterable[str] | None = None) -> None:
        pairs = list(fields)
        self._names = tuple(name for name, _ in pairs)
        self._values = tuple(value for _, value in pairs)
        self._lower = tuple(
            lower_names if lower_names is not None else (name.lower() for name in self._names)
        )

    def __getitem__(self, name: str) -> str | None:
        """The value of the first field called *name*, or ``None`` if absent."""
        return self.get(name)

    @overload
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, failobj: _D) -> str | _D: ...

    def get(self, name: str, failobj: object = None) -> object:
        """Return the value of the first field called *name*, or *failobj*."""
        try:
            return self._values[self._lower.index(name.lower())]
        except ValueError:
            return failobj

    @overload
    def get_all(self, name: str) -> list[str] | None: ...

    @overload
    def get_all(self, name: str, failobj: _D) -> list[str] | _D: ...

    def get_all(self, name: str, failobj: object = None) -> object:
        """Return the values of every field called *name*, or *failobj* if none."""
        lower = name.lower()
        values = [value for value, candidate in zip(self._values, self._lower) if candidate == lower]
        return values if values else failobj

    def get_content_type(self) -> str:
        """The media type of ``Content-Type``, lower-cased, without parameters.

        Like :meth:`email.message.Message.get_content_type`, this is
        ``'text/plain'`` when the field is absent or malformed.
        """
        value = self.get("Content-Type")
        if value is None:
            return "text/plain"
        media_type = value.partition(";")[0].strip().lower()
        return media_type if media_type.count("/") == 1 else "text/plain"

    @overload
    def get_content_charset(self) -> str | None: ...

    @overload
    def get_content_charset(self, failobj: _D) -> str | _D: ...

    def get_content_charset(self, failobj: object = None) -> object:
        """The ``charset`` parameter of ``Content-Type``, lower-cased, or *failobj*."""
        value = self.get("Content-Type")
        if value is None:
            return failobj
        for param in value.split(";")[1:]:
            key, _, charset = param.partition("=")
            if key.strip().lower() == "charset":
                return charset.strip().strip('"').lower() or failobj
        return failobj

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lower

    def __iter__(self) -> Iterator[str]:
        """Iterate over the field names, repeated fields repeated."""
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def keys(self) -> list[str]:
        """The field names, in the order received."""
        return list(self._names)

    def values(self) -> list[str]:
        """The field values, in the order received."""
        return list(self._values)

    def items(self) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs, in the order received."""
        return list(zip(self._names, self._values))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResponseHeaders):
            return self._names == other._names and self._values == other._values
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items()!r})"


# The parser's way in and out (dugong._http11), without pairs or lists made
# per call: the functions of this module may read the tuples of the class.

_NO_VALUES: tuple[str, ...] = ()


def headers_from_lists(names: list[str], values: list[str], lower: list[str]) -> ResponseHeaders:
    """Make :class:`ResponseHeaders` from parallel lists of names, values and lower-case names."""
    headers = ResponseHeaders.__new__(ResponseHeaders)
    headers._names, headers._values, headers._lower = tuple(names), tuple(values), tuple(lower)
    return headers


def field_values(headers: ResponseHeaders, *lower_names: str) -> list[Sequence[str]]:
    """For each of *lower_names* (lower-case), the values of every field so called, in order."""
    lower = headers._lower
    found: list[Sequence[str]] = []
    for lower_name in lower_names:
        count = lower.count(lower_name)
        if count == 1:
            found.append((headers._values[lower.index(lower_name)],))
        elif not count:
            found.append(_NO_VALUES)
        else:
            found.append([value for value, name in zip(headers._values, lower) if name == lower_name])
    return found


def validate_field(name: str, value: str) -> None:
    """Raise :exc:`ValueError` unless *name* is a token and *value* a safe field value.

    A safe value has no control characters other than horizontal tab (in
    particular no CR, LF or NUL, which could end the field or the head early)
    and encodes to ISO-8859-1.
    """
    if not isinstance(name, str) or not name or name.strip(TCHAR):
        raise ValueError(f"header name must be a token (RFC 9110 section 5.6.2), not {name!r}")
    if not isinstance(value, str):
        raise ValueError(f"value of header {name!r} must be a str, not {value!r}")
    if not value.isprintable() and FIELD_VALUE_BAD.search(value):
        raise ValueError(f"value of header {name!r} contains a control character: {value!r}")
