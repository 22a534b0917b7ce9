"""Codecs turn a workflow's object into bytes and back; the default is JSON via msgspec.

`JsonCodec` handles dataclasses, msgspec Structs, TypedDicts, plain JSON data and pydantic v2
models (used through `model_dump_json` / `model_validate_json`; pydantic is never imported here,
models are recognised by those methods). Every failure surfaces as `CodecError`.
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import datetime
import decimal
import enum
import functools
import reprlib
import types
import typing
import uuid
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

import msgspec

from wfkit._errors import CodecError

__all__ = ["Codec", "JsonCodec"]

T = TypeVar("T")

_KINDS = "a dataclass, msgspec Struct, pydantic model, TypedDict or plain JSON data"
_FAILURES = (msgspec.MsgspecError, TypeError, ValueError, OverflowError)
_SORTED, _INSERTION, _MODEL = 0, 1, 2  # how JsonCodec.encode handles a class
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}  # per class; None for a leaf
_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = 60


@runtime_checkable
class Codec(Protocol):
    """**Protocol:** turns a workflow's object into bytes and back."""

    def encode(self, obj: object) -> bytes:
        """Return the bytes for *obj*; raise `CodecError` when it cannot be encoded."""
        ...

    def decode(self, data: bytes, object_type: type[T]) -> T:
        """Return the *object_type* value held in *data*; raise `CodecError` when it cannot."""
        ...


def _is_model_type(tp: object) -> bool:
    """A pydantic v2 model class (duck-typed, so pydantic is never imported)."""
    return (
        isinstance(tp, type)
        and callable(getattr(tp, "model_validate_json", None))
        and callable(getattr(tp, "model_dump_json", None))
    )


def _enc_hook(obj: Any) -> Any:
    if _is_model_type(type(obj)):  # a pydantic model nested in a dataclass, Struct or list
        return obj.model_dump(mode="json", round_trip=True)
    raise TypeError(f"{type(obj).__qualname__} is not JSON-serialisable")


def _dec_hook(tp: Any, obj: Any) -> Any:
    if _is_model_type(tp):
        return tp.model_validate(obj)
    raise TypeError(f"{_type_name(tp)} is not a type the JSON codec supports; use {_KINDS}")


def _type_name(tp: object) -> str:
    return tp.__qualname__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def _an(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _field_names(cls: type) -> tuple[str, ...] | None:
    if issubclass(cls, msgspec.Struct):
        return cls.__struct_fields__
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    if _is_model_type(cls):
        return tuple(cls.model_fields)  # type: ignore[attr-defined]
    return None


def _children(obj: object) -> dict[object, object] | None:
    """The parts of a container the codec walks into, by key, or None for a leaf."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, list | tuple):
        return dict(enumerate(obj))
    cls = type(obj)
    try:
        names = _FIELD_NAMES[cls]
    except KeyError:
        names = _FIELD_NAMES[cls] = _field_names(cls)
    return None if names is None else {name: getattr(obj, name) for name in names}


def _first_difference(a: object, b: object) -> tuple[list[object], object, object] | None:
    """Where *b* (the decoded value) first differs from *a*, by type or by value: the keys to
    the differing part (innermost first) and the two parts."""
    if type(a) is not type(b):
        return [], a, b
    if type(a) in _SCALARS:
        return None if a == b else ([], a, b)
    parts_a, parts_b = _children(a), _children(b)
    if parts_a is None or parts_b is None:
        return None if a == b else ([], a, b)
    if parts_a.keys() != parts_b.keys():  # JSON objects may come back in another key order
        return [], a, b
    for key, value in parts_a.items():
        found = _first_difference(value, parts_b[key])
        if found is not None:
            found[0].append(key)
            return found
    return None


def _where(path: str) -> str:
    return f"field {path!r}" if path else "the value"


class JsonCodec:
    """The default codec: deterministic JSON, with msgspec decoders cached per type."""

    def __init__(self) -> None:
        self._sorted = msgspec.json.Encoder(enc_hook=_enc_hook, order="deterministic")
        self._unsorted = msgspec.json.Encoder(enc_hook=_enc_hook)
        self._decoders: dict[object, Callable[[bytes], Any]] = {}
        self._kinds: dict[type, int] = {}

    def encode(self, obj: object) -> bytes:
        """Encode *obj* as JSON; a dataclass becomes a JSON object of its fields.

        Dict keys and sets are sorted so equal objects give equal bytes; msgspec can only sort
        str-keyed dicts, so an object holding e.g. an int-keyed dict keeps insertion order.
        """
        cls = type(obj)
        kind = self._kinds.get(cls)
        if kind is None:
            kind = self._kinds[cls] = _MODEL if _is_model_type(cls) else _SORTED
        try:
            if kind == _SORTED:
                return self._sorted.encode(obj)
            if kind == _INSERTION:
                return self._unsorted.encode(obj)
            text: str = cast(Any, obj).model_dump_json(round_trip=True)
            return text.encode()
        except _FAILURES as exc:
            data = self._encode_unsorted(obj) if kind == _SORTED else None
            if data is None:
                raise self._encode_error(obj, exc) from exc
            if cls.__module__ != "builtins":  # remember for this class, not for every dict
                self._kinds[cls] = _INSERTION
            return data

    def _encode_unsorted(self, obj: object) -> bytes | None:
        try:
            return self._unsorted.encode(obj)
        except _FAILURES:
            return None

    def decode(self, data: bytes, object_type: type[T]) -> T:
        """Decode *data* as an *object_type* value."""
        try:
            decoder = self._decoders[object_type]
        except (KeyError, TypeError):
            decoder = self._decoder_for(object_type)
        try:
            result: T = decoder(data)
        except _FAILURES as exc:
            raise self._decode_error(object_type, exc) from exc
        return result

    def check_round_trip(self, obj: object, object_type: type[Any]) -> bytes:
        """Encode *obj*, decode it back as *object_type* and require an exact match.

        Returns the encoded bytes. Raises `CodecError` naming the first field that differs
        (a changed type counts, e.g. a set that comes back as a list).
        """
        data = self.encode(obj)
        decoded = self.decode(data, object_type)
        if decoded == obj and _exact(cast(Hashable, object_type)):
            return data  # every field is typed precisely: nothing can hide behind ==
        found = _first_difference(obj, decoded)  # also catches types lost behind ==
        if found is None and decoded == obj:
            return data
        name = _type_name(object_type)
        prefix = f"{name} does not survive a JSON round trip: "
        if found is None:
            msg = f"the decoded value is not == the original; check {name}'s __eq__"
            raise CodecError(prefix + msg, type_name=name)
        keys, before, after = found
        path = functools.reduce(_join, reversed(keys), "")
        old, new = type(before).__name__, type(after).__name__
        if isinstance(before, set | frozenset | tuple) and isinstance(after, list):
            msg = f"{_where(path)} is {_an(old)} (encoded as a list); use a list or a custom codec"
        elif type(before) is not type(after):
            msg = (
                f"{_where(path)} is {_an(old)} but comes back as {_an(new)}; "
                "give the field a precise type annotation or use a custom codec"
            )
        else:
            msg = (
                f"{_where(path)} changes from {_repr.repr(before)} to {_repr.repr(after)}; "
                "give the field a precise type annotation (JSON object keys are strings) "
                "or use a custom codec"
            )
        raise CodecError(prefix + msg, type_name=name)

    def _decoder_for(self, object_type: object) -> Callable[[bytes], Any]:
        decoder: Callable[[bytes], Any]
        if _is_model_type(object_type):
            decoder = cast(Any, object_type).model_validate_json
        else:
            try:
                decoder = msgspec.json.Decoder(object_type, dec_hook=_dec_hook).decode
            except (TypeError, ValueError) as exc:
                name = _type_name(object_type)
                raise CodecError(
                    f"{name} is not a type the JSON codec supports ({exc}); use {_KINDS}, or a custom codec",
                    type_name=name,
                ) from exc
        with contextlib.suppress(TypeError):  # an unhashable annotation is just not cached
            self._decoders[object_type] = decoder
        return decoder

    def _encode_error(self, obj: object, exc: Exception) -> CodecError:
        name = type(obj).__qualname__
        path, value, reason = "", obj, exc
        while (parts := _children(value)) is not None:  # descend to the part that fails
            for key, part in parts.items():
                if (failure := self._encode_failure(part)) is not None:
                    path, value, reason = _join(path, key), part, failure
                    break
            else:
                break
        return CodecError(
            f"{name} cannot be encoded as JSON: {_where(path)} holds {_an(type(value).__name__)} "
            f"({reason}); use {_KINDS}, or a custom codec",
            type_name=name,
        )

    def _encode_failure(self, part: object) -> Exception | None:
        try:
            self._sorted.encode(part)
        except _FAILURES as exc:
            return None if self._encode_unsorted(part) is not None else exc
        return None

    def _decode_error(self, object_type: object, exc: Exception) -> CodecError:
        name = _type_name(object_type)
        detail = str(exc) or type(exc).__name__
        shape = isinstance(exc, msgspec.ValidationError)
        if callable(errors := getattr(exc, "errors", None)):  # a pydantic ValidationError
            first = errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            detail = f"{first.get('msg')}" + (f" - at {where}" if where else "")
            shape = first.get("type") != "json_invalid"
        if shape:
            why = f"the JSON does not have the shape of {name} ({detail})"
            fix = f"check the data was written for {name}, or migrate it"
        else:
            why = f"the bytes are not valid JSON ({detail})"
            fix = "check the stored bytes were written by this codec"
        return CodecError(f"cannot decode {name}: {why}; {fix}", type_name=name)


_EXACT_LEAVES = frozenset(
    {
        str,
        int,
        float,
        bool,
        bytes,
        type(None),
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        uuid.UUID,
        decimal.Decimal,
    }
)


@functools.cache
def _exact(tp: Any) -> bool:
    """Whether decoding as `tp` reproduces every value's type, so `==` is proof enough.

    True for classes whose fields are typed down to scalars, enums, containers and other such
    classes; False wherever `Any`, `object`, a bare container or an unknown type could let a
    value change type (an IntEnum coming back as an int) while still comparing equal.
    """
    return _exact_hint(tp, 0)


def _exact_hint(tp: Any, depth: int) -> bool:
    if depth > 20:
        return False
    if tp in _EXACT_LEAVES or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return True
    origin = typing.get_origin(tp)
    if origin is not None:
        args = typing.get_args(tp)
        if origin in (
            list,
            set,
            frozenset,
            tuple,
            dict,
            typing.Union,
            types.UnionType,
            collections.abc.Sequence,
        ):
            return bool(args) and all(a is Ellipsis or _exact_hint(a, depth + 1) for a in args)
        return origin is typing.Literal
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or issubclass(tp, msgspec.Struct)):
        try:
            hints = typing.get_type_hints(tp)
        except Exception:
            return False
        return all(_exact_hint(h, depth + 1) for h in hints.values())
    return False
