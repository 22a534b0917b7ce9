"""The default JSON codec: exact round trips, deterministic bytes, and clear `CodecError`s."""

from __future__ import annotations

import enum
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypedDict

import msgspec
import pydantic
import pytest

from wfkit._codec import Codec, JsonCodec
from wfkit._errors import CodecError, WfkitError


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass
class Address:
    street: str
    city: str
    postcode: str | None = None


@dataclass
class Line:
    sku: str
    qty: int
    price: float


@dataclass
class Order:
    id: str
    placed_at: datetime
    due: date
    colour: Colour
    priority: Priority
    address: Address
    lines: list[Line]
    notes: str | None = None
    totals: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def make_order(**overrides: Any) -> Order:
    values: dict[str, Any] = {
        "id": "o-1",
        "placed_at": datetime(2024, 3, 31, 1, 30, 15, 123456, tzinfo=UTC),
        "due": date(2024, 4, 2),
        "colour": Colour.BLUE,
        "priority": Priority.HIGH,
        "address": Address("1 High St", "Leeds"),
        "lines": [Line("a", 2, 9.99), Line("b", 1, 0.1)],
        "totals": {"net": 20.08, "tax": 4.02},
        "tags": ["gift"],
    }
    values.update(overrides)
    return Order(**values)


class Invoice(msgspec.Struct):
    number: int
    issued: datetime
    lines: list[Line]
    priority: Priority = Priority.LOW
    memo: str | None = None


class Customer(pydantic.BaseModel):
    name: str
    joined: datetime
    colour: Colour
    scores: list[int] = []


class Payment(TypedDict):
    amount: int
    currency: str
    at: datetime


@dataclass
class WithAny:
    value: Any


@dataclass
class WithCustomer:
    customer: Customer


class Widget:
    """An arbitrary class JSON knows nothing about."""


@pytest.fixture(name="codec")
def _codec() -> JsonCodec:
    return JsonCodec()


def test_json_codec_implements_the_protocol(codec: JsonCodec) -> None:
    assert isinstance(codec, Codec)


def test_codec_error_is_a_wfkit_error() -> None:
    assert issubclass(CodecError, WfkitError)


# --- exact round trips ----------------------------------------------------------------------


def test_nested_dataclass_round_trips_exactly(codec: JsonCodec) -> None:
    order = make_order()
    data = codec.check_round_trip(order, Order)
    back = codec.decode(data, Order)
    assert back == order
    assert type(back.colour) is Colour
    assert type(back.priority) is Priority
    assert type(back.address) is Address
    assert back.placed_at.tzinfo is not None
    assert back.placed_at.utcoffset() == timedelta(0)


def test_dataclass_is_written_as_a_json_object_of_its_fields(codec: JsonCodec) -> None:
    payload = json.loads(codec.encode(make_order()))
    assert payload["id"] == "o-1"
    assert payload["placed_at"] == "2024-03-31T01:30:15.123456Z"
    assert payload["due"] == "2024-04-02"
    assert payload["colour"] == "blue"
    assert payload["priority"] == 2
    assert payload["address"] == {"street": "1 High St", "city": "Leeds", "postcode": None}
    assert payload["lines"][0] == {"sku": "a", "qty": 2, "price": 9.99}


def test_defaults_fill_missing_fields(codec: JsonCodec) -> None:
    back = codec.decode(b'{"street": "x", "city": "y"}', Address)
    assert back == Address("x", "y", None)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2024, 1, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2024, 1, 1, 12, 0, 0, 999999),
    ],
    ids=["utc", "offset", "naive"],
)
def test_datetimes_round_trip_exactly(codec: JsonCodec, when: datetime) -> None:
    back = codec.decode(codec.check_round_trip(when, datetime), datetime)
    assert back == when
    assert back.utcoffset() == when.utcoffset()
    assert (back.tzinfo is None) == (when.tzinfo is None)


def test_struct_round_trips_exactly(codec: JsonCodec) -> None:
    invoice = Invoice(7, datetime(2024, 5, 1, tzinfo=UTC), [Line("a", 1, 1.5)], Priority.HIGH)
    back = codec.decode(codec.check_round_trip(invoice, Invoice), Invoice)
    assert back == invoice
    assert type(back.priority) is Priority


def test_pydantic_model_round_trips_exactly(codec: JsonCodec) -> None:
    customer = Customer(name="Ada", joined=datetime(2023, 12, 31, 23, 59, tzinfo=UTC), colour=Colour.RED)
    data = codec.check_round_trip(customer, Customer)
    assert data == customer.model_dump_json(round_trip=True).encode()
    back = codec.decode(data, Customer)
    assert back == customer
    assert back.joined.utcoffset() == timedelta(0)


def test_pydantic_model_nested_in_a_dataclass_round_trips(codec: JsonCodec) -> None:
    holder = WithCustomer(Customer(name="Bo", joined=datetime(2024, 1, 1), colour=Colour.BLUE))
    assert codec.decode(codec.check_round_trip(holder, WithCustomer), WithCustomer) == holder


def test_typeddict_round_trips_exactly(codec: JsonCodec) -> None:
    payment: Payment = {"amount": 1250, "currency": "GBP", "at": datetime(2024, 2, 29, tzinfo=UTC)}
    assert codec.decode(codec.check_round_trip(payment, Payment), Payment) == payment


@pytest.mark.parametrize(
    ("value", "object_type"),
    [
        ({"a": 1, "b": [1, 2.5, "x", None, True], "c": {"d": {}}}, dict),
        ([1, "two", [3.0], {"four": None}], list),
        ({"k": ["v"]}, Any),
        ({"k": [1, 2]}, dict[str, list[int]]),
        ("text", str),
        (None, Any),
    ],
)
def test_plain_json_data_round_trips_exactly(codec: JsonCodec, value: object, object_type: Any) -> None:
    assert codec.decode(codec.check_round_trip(value, object_type), object_type) == value


def test_encoding_is_deterministic(codec: JsonCodec) -> None:
    assert codec.encode(make_order()) == codec.encode(make_order())
    assert codec.encode({"b": 1, "a": 2}) == codec.encode({"a": 2, "b": 1})
    assert JsonCodec().encode(make_order()) == codec.encode(make_order())


@dataclass
class Counts:
    by_id: dict[int, str]
    seen: set[str]


def test_int_keyed_dict_fields_round_trip(codec: JsonCodec) -> None:
    # msgspec only sorts str-keyed dicts: such objects fall back to insertion order.
    counts = Counts({2: "b", 1: "a"}, {"x", "y"})
    data = codec.check_round_trip(counts, Counts)
    assert codec.decode(data, Counts) == counts
    assert codec.encode(counts) == data
    assert codec.encode({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_decoders_are_cached_per_type(codec: JsonCodec) -> None:
    codec.decode(codec.encode(make_order()), Order)
    first = codec._decoders[Order]
    codec.decode(codec.encode(make_order()), Order)
    assert codec._decoders[Order] is first


# --- refusals ----------------------------------------------------------------------------------


def test_set_in_a_list_field_is_refused_by_check_round_trip(codec: JsonCodec) -> None:
    order = make_order(tags={"gift", "fragile"})
    with pytest.raises(
        CodecError,
        match=r"^Order does not survive a JSON round trip: field 'tags' is a set "
        r"\(encoded as a list\); use a list or a custom codec$",
    ) as info:
        codec.check_round_trip(order, Order)
    assert info.value.type_name == "Order"


def test_nested_difference_names_the_path(codec: JsonCodec) -> None:
    value = {"outer": [{"inner": (1, 2)}]}
    with pytest.raises(CodecError, match=r"field 'outer\[0\]\.inner' is a tuple"):
        codec.check_round_trip(value, dict)


def test_enum_in_an_any_field_is_refused(codec: JsonCodec) -> None:
    # IntEnum == int, so == alone would miss that the type is lost.
    with pytest.raises(CodecError, match=r"field 'value' is a Priority but comes back as an int"):
        codec.check_round_trip(WithAny(Priority.HIGH), WithAny)


def test_int_dict_keys_are_refused_for_untyped_dicts(codec: JsonCodec) -> None:
    with pytest.raises(CodecError, match=r"the value changes from \{1: 'a'\} to \{'1': 'a'\}"):
        codec.check_round_trip({1: "a"}, dict)


def test_arbitrary_instance_is_refused(codec: JsonCodec) -> None:
    with pytest.raises(
        CodecError,
        match=r"^WithAny cannot be encoded as JSON: field 'value\[1\]' holds a Widget .*"
        r"custom codec$",
    ) as info:
        codec.check_round_trip(WithAny([1, Widget()]), WithAny)
    assert info.value.type_name == "WithAny"
    assert not isinstance(info.value.__cause__, CodecError)


def test_encode_refuses_an_arbitrary_object(codec: JsonCodec) -> None:
    with pytest.raises(CodecError, match=r"^Widget cannot be encoded as JSON: the value holds"):
        codec.encode(Widget())


@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe", b'{"street": "x"'])
def test_bad_bytes_are_refused(codec: JsonCodec, data: bytes) -> None:
    with pytest.raises(CodecError, match=r"^cannot decode Address: ") as info:
        codec.decode(data, Address)
    assert not isinstance(info.value, msgspec.MsgspecError)


def test_bad_bytes_for_a_pydantic_model_are_refused(codec: JsonCodec) -> None:
    with pytest.raises(CodecError, match=r"^cannot decode Customer: the bytes are not valid JSON"):
        codec.decode(b"{oops", Customer)


@pytest.mark.parametrize(
    ("data", "object_type", "where"),
    [
        (b'{"street": "x", "city": 3}', Address, r"\$\.city"),
        (b'{"street": "x"}', Address, r"city"),
        (b"[1, 2]", Address, r"object"),
        (b'{"number": "seven", "issued": "2024-01-01T00:00:00Z", "lines": []}', Invoice, "number"),
        (b'{"amount": 1}', Payment, "currency"),
        (b'{"name": "A", "joined": "nope", "colour": "red"}', Customer, "joined"),
        (b'{"a": 1}', list, "array"),
    ],
)
def test_wrong_shape_is_refused_naming_the_type(
    codec: JsonCodec, data: bytes, object_type: Any, where: str
) -> None:
    name = object_type.__qualname__
    with pytest.raises(
        CodecError, match=rf"^cannot decode {name}: the JSON does not have the shape of {name} "
    ) as info:
        codec.decode(data, object_type)
    assert info.value.type_name == name
    assert re.search(where, str(info.value))


def test_unsupported_type_is_refused(codec: JsonCodec) -> None:
    with pytest.raises(CodecError, match=r"^cannot decode Widget: .*not a type the JSON codec"):
        codec.decode(b"{}", Widget)


def test_check_round_trip_against_another_type(codec: JsonCodec) -> None:
    with pytest.raises(CodecError, match=r"^cannot decode Line: "):
        codec.check_round_trip(make_order(), Line)


def test_pydantic_is_not_imported_by_the_codec() -> None:
    code = (
        "import sys, dataclasses\n"
        "from wfkit._codec import JsonCodec\n"
        "@dataclasses.dataclass\n"
        "class A:\n    x: int\n"
        "c = JsonCodec()\n"
        "assert c.decode(c.check_round_trip(A(1), A), A) == A(1)\n"
        "assert 'pydantic' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
