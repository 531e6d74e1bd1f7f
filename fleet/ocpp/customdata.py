"""The open ``customData`` object every OCPP 2.x message and datatype may carry.

In the OCPP 2.x JSON schemas ``CustomDataType`` is the one object that is *not*
closed with ``additionalProperties: false``: it has a required ``vendorId``
(a string of at most 255 characters) and vendors may add any further JSON
properties. msgspec Structs drop or refuse unknown fields, so ``customData`` is
represented by the plain class :class:`CustomData`, which keeps the extra
properties, and is (de)serialised by a hook pair:

* :func:`dec_hook` turns the decoded JSON object into a :class:`CustomData`,
  checking ``vendorId``; a bad object raises ``msgspec.ValidationError`` (with
  the JSON path) from the decoder that called it;
* :func:`enc_hook` turns a :class:`CustomData` back into the JSON object, extra
  properties included.

Every ``msgspec.json.Decoder`` / ``Encoder`` used on OCPP 2.x payloads must be
built with these hooks; the version packages (``fleet.ocpp.v201``) provide
ready-made ones. This module is version-independent (OCPP 2.0.1 and 2.1 share
the definition).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, final

__all__ = ["VENDOR_ID_MAX_LENGTH", "CustomData", "dec_hook", "enc_hook"]

#: ``maxLength`` of ``CustomDataType.vendorId`` in the schemas.
VENDOR_ID_MAX_LENGTH: Final = 255

_VENDOR_ID: Final = "vendorId"


@final
class CustomData:
    """Vendor-specific data: a ``vendor_id`` plus any extra JSON properties.

    ``extra`` holds the properties other than ``vendorId`` exactly as decoded from
    JSON (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``, ``None``). It is
    exposed read-only; instances are immutable and compare by value (the hash
    covers ``vendor_id`` only, since ``extra`` may hold dicts and lists).
    """

    __slots__ = ("_extra", "_vendor_id")

    _vendor_id: str
    _extra: Mapping[str, Any]

    def __init__(self, vendor_id: str, extra: Mapping[str, Any] | None = None) -> None:
        _check_vendor_id(vendor_id)
        properties = dict(extra) if extra else {}
        if _VENDOR_ID in properties:
            raise ValueError("`extra` must not contain `vendorId`; pass it as `vendor_id`")
        for key in properties:
            if not isinstance(key, str):
                raise TypeError(f"property names must be strings, got `{_json_type_name(key)}`")
        object.__setattr__(self, "_vendor_id", vendor_id)
        object.__setattr__(self, "_extra", MappingProxyType(properties))

    @property
    def vendor_id(self) -> str:
        """The ``vendorId`` property: who defined the extra properties."""
        return self._vendor_id

    @property
    def extra(self) -> Mapping[str, Any]:
        """Every property other than ``vendorId`` (read-only)."""
        return self._extra

    @classmethod
    def from_json(cls, obj: object) -> CustomData:
        """Build from a decoded JSON value; raises ``TypeError``/``ValueError`` if invalid."""
        if not isinstance(obj, dict):
            raise TypeError(f"Expected `object`, got `{_json_type_name(obj)}`")
        if _VENDOR_ID not in obj:
            raise ValueError("Object missing required field `vendorId`")
        extra = {key: value for key, value in obj.items() if key != _VENDOR_ID}
        return cls(obj[_VENDOR_ID], extra)

    def to_json(self) -> dict[str, Any]:
        """The JSON object: ``vendorId`` first, then the extra properties."""
        return {_VENDOR_ID: self._vendor_id, **self._extra}

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomData):
            return NotImplemented
        return self._vendor_id == other._vendor_id and self._extra == other._extra

    def __hash__(self) -> int:
        # `extra` may hold dicts and lists; equal objects still get equal hashes.
        return hash((CustomData, self._vendor_id))

    def __repr__(self) -> str:
        if self._extra:
            return f"CustomData(vendor_id={self._vendor_id!r}, extra={dict(self._extra)!r})"
        return f"CustomData(vendor_id={self._vendor_id!r})"


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec ``dec_hook``: decodes :class:`CustomData`; other types are unsupported."""
    if type_ is CustomData:
        return CustomData.from_json(obj)
    raise NotImplementedError(f"cannot decode {type_!r}")


def enc_hook(obj: Any) -> Any:
    """msgspec ``enc_hook``: encodes :class:`CustomData`; other types are unsupported."""
    if isinstance(obj, CustomData):
        return obj.to_json()
    raise NotImplementedError(f"cannot encode objects of type {type(obj).__name__}")


def _check_vendor_id(vendor_id: object) -> None:
    # Worded like msgspec's own errors, which append the location of the object.
    if not isinstance(vendor_id, str):
        raise TypeError(f"Expected `str` for `vendorId`, got `{_json_type_name(vendor_id)}`")
    if len(vendor_id) > VENDOR_ID_MAX_LENGTH:
        raise ValueError(f"Expected `str` of length <= {VENDOR_ID_MAX_LENGTH} for `vendorId`")


def _json_type_name(obj: object) -> str:
    match obj:
        case None:
            return "null"
        case bool():
            return "bool"
        case int():
            return "int"
        case float():
            return "float"
        case str():
            return "str"
        case list():
            return "array"
        case dict():
            return "object"
        case _:
            return type(obj).__name__
