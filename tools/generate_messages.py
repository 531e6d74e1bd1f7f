#!/usr/bin/env python3
"""Generate ``fleet/ocpp/v{16,201,21}/messages.py`` from the OCPP JSON schemas.

Usage::

    .venv/bin/python tools/generate_messages.py            # (re)write every version's messages.py
    .venv/bin/python tools/generate_messages.py --check    # exit 1 if one of them is stale
    .venv/bin/python tools/generate_messages.py --version 1.6 [--check]   # one version only
    .venv/bin/python tools/generate_messages.py --version 2.1 --schemas DIR   # schemas from DIR

By default the schemas are the OCA ones shipped in the ``ocpp`` PyPI package (a dev
dependency): ``ocpp/v201/schemas/{Action}Request.json`` and ``{Action}Response.json``
(likewise ``v21``; OCPP 1.6 names a request ``{Action}.json``). What differs between
versions is data, in :data:`VERSIONS` (:class:`VersionFacts`); the code is one.

OCPP 1.6 is shaped differently: its core schemas are draft-04 and nest their objects
and enumerations inline, without ``definitions``. Before anything else each inline
object or enumeration is *hoisted* into a definition, named by the version's
``inline_names`` (by ``"<Class>.<property>"``, else by property name; the 1.6
specification's type names): ``IdTagInfo``, ``AuthorizationStatus``, ... The same
name must then mean the same structure everywhere, as for any definition. The
Security Extension's schemas (draft-06, with definitions) reuse three core names for
other enumerations; ``definition_renames`` gives those their own.

How the JSON schema keywords map to the generated code (every keyword used by the
schemas is listed in ``_KEYWORDS``; any other keyword makes the generator fail):

* ``XType`` definitions become ``msgspec.Struct`` classes named ``X``; ``XEnumType``
  definitions become ``enum.StrEnum`` classes named ``X``, or ``XEnum`` where ``X``
  is already taken by a datatype (``IdTokenEnum``, ``VPNEnum``). A definition found
  in several schemas must be identical in all of them apart from descriptions.
* ``properties`` / ``required``: attributes are snake_case, wire names exactly the
  schema's (``rename="camel"`` on the base class, ``field(name=...)`` where camel
  case does not give the wire name back). Required properties have no default;
  optional ones are ``T | UnsetType = UNSET``, so they are omitted on encode and a
  JSON ``null`` is rejected on decode (the schemas never allow ``null``).
* ``additionalProperties: false`` -> ``forbid_unknown_fields=True``. Every object has
  it except ``CustomDataType``, which is open and handled by the hand-written
  ``fleet.ocpp.customdata.CustomData`` (checked here to be the expected shape).
  On the enum (string) definitions it has no effect.
* ``maxLength`` / ``minLength`` / ``pattern`` -> ``Meta(max_length / min_length /
  pattern)`` (OCPP 2.0.1 uses no ``minLength`` or ``pattern``); ``minimum`` / ``maximum`` / ``exclusiveMinimum`` / ``exclusiveMaximum``
  -> ``Meta(ge / le / gt / lt)`` (draft-04's boolean ``exclusiveMinimum: true`` turns
  ``minimum`` into ``gt``); ``minItems`` / ``maxItems`` -> ``Meta(min_length /
  max_length)`` on the list; ``format: date-time`` -> ``DateTime`` (an aware
  ``datetime``: msgspec checks RFC 3339 and we require the offset); ``format: uri``
  -> ``Uri`` (``fleet.ocpp.constraints.URI_PATTERN``, RFC 3986).
* ``multipleOf`` (1.6's charging limits: ``0.1``) -> a ``__post_init__`` calling
  ``fleet.ocpp.constraints.check_multiple_of``: decimal arithmetic on the number as
  written (msgspec's float ``multiple_of`` rejects 0.3 for 0.1, and so does binary
  floating point).
* A property without any keyword (``DataTransfer``'s ``data``) is ``Any``: any JSON
  value, ``null`` included.
* ``items`` -> ``list[...]``. ``additionalItems`` only matters when ``items`` is an
  array of schemas (a tuple); here ``items`` is always one schema, so it is ignored.
* ``default`` is an annotation in JSON schema (it does not fill in absent values),
  so the field stays optional and the default is noted in a comment.
* ``description`` becomes the docstring (cleaned, first paragraph, capped);
  ``$schema``, ``$id``, ``title``, ``comment`` and ``javaType`` are ignored.

Integers: the JSON schema ``integer`` type becomes ``int`` and decoding stays in
msgspec's strict mode, so an integral float literal such as ``5.0`` in an integer
field is *rejected*, although draft-06 counts it as an integer. This is deliberate:
OCPP defines these fields as integers and every real implementation writes them as
such; accepting ``5.0`` would need msgspec's lax mode (which would also accept
``"5"`` and ``"true"``, i.e. real schema violations) or a slow per-field hook; and
fleet itself never writes a float into an integer field. ``number`` fields become
``float`` and accept both ``5`` and ``5.0``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import difflib
import heapq
import html
import importlib.metadata
import importlib.resources
import json
import keyword
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class VersionFacts:
    """What one OCPP version's schemas need that the keywords do not say.

    Attributes:
        name: the version as people write it (``"1.6"``).
        package: its package in ``fleet/ocpp`` and its directory in the ``ocpp``
            package's schemas (``"v16"``).
        request_suffix: the file name suffix of request schemas (1.6 has none).
        custom_data: whether the schemas have the open ``CustomDataType``.
        inline_names: class names of inline objects and enumerations, by
            ``"<Class>.<property>"`` or by property name (see the module docstring).
        definition_renames: definition name -> the name it is generated under.
        send_messages: whether a schema named neither ``*Request`` nor
            ``*Response`` is an unconfirmed message (OCPP-J 2.1's SEND, e.g.
            ``NotifyPeriodicEventStream.json``): its class is named as the action
            and listed in ``SEND_ACTIONS``.
    """

    name: str
    package: str
    request_suffix: str = "Request"
    custom_data: bool = True
    inline_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    definition_renames: Mapping[str, str] = dataclasses.field(default_factory=dict)
    send_messages: bool = False

    @property
    def output(self) -> Path:
        return REPO_ROOT / "fleet" / "ocpp" / self.package / "messages.py"


#: The 1.6 specification's names of the inline objects and enumerations (section 7).
_V16_INLINE_NAMES: Mapping[str, str] = {
    # by property name, wherever it appears
    "idTagInfo": "IdTagInfo",
    "chargingProfile": "ChargingProfile",
    "csChargingProfiles": "ChargingProfile",
    "chargingSchedule": "ChargingSchedule",
    "chargingSchedulePeriod": "ChargingSchedulePeriod",
    "chargingProfilePurpose": "ChargingProfilePurpose",
    "chargingProfileKind": "ChargingProfileKind",
    "recurrencyKind": "RecurrencyKind",
    "chargingRateUnit": "ChargingRateUnit",
    "meterValue": "MeterValue",
    "sampledValue": "SampledValue",
    "context": "ReadingContext",
    "format": "ValueFormat",
    "measurand": "Measurand",
    "phase": "Phase",
    "location": "Location",
    "unit": "UnitOfMeasure",
    "configurationKey": "KeyValue",
    "localAuthorizationList": "AuthorizationData",
    "updateType": "UpdateType",
    "errorCode": "ChargePointErrorCode",
    "reason": "Reason",
    "requestedMessage": "MessageTrigger",
    "transactionData": "TransactionData",
    # by the class the property is in
    "TransactionData.sampledValue": "TransactionSampledValue",  # no minItems
    "TransactionSampledValue.unit": "TransactionUnitOfMeasure",  # no Hertz
    "IdTagInfo.status": "AuthorizationStatus",
    "BootNotificationResponse.status": "RegistrationStatus",
    "CancelReservationResponse.status": "CancelReservationStatus",
    "ChangeAvailabilityRequest.type": "AvailabilityType",
    "ChangeAvailabilityResponse.status": "AvailabilityStatus",
    "ChangeConfigurationResponse.status": "ConfigurationStatus",
    "ClearCacheResponse.status": "ClearCacheStatus",
    "ClearChargingProfileResponse.status": "ClearChargingProfileStatus",
    "DataTransferResponse.status": "DataTransferStatus",
    "DiagnosticsStatusNotificationRequest.status": "DiagnosticsStatus",
    "FirmwareStatusNotificationRequest.status": "FirmwareStatus",
    "GetCompositeScheduleResponse.status": "GetCompositeScheduleStatus",
    "RemoteStartTransactionResponse.status": "RemoteStartStopStatus",
    "RemoteStopTransactionResponse.status": "RemoteStartStopStatus",
    "ReserveNowResponse.status": "ReservationStatus",
    "ResetRequest.type": "ResetType",
    "ResetResponse.status": "ResetStatus",
    "SendLocalListResponse.status": "UpdateStatus",
    "SetChargingProfileResponse.status": "ChargingProfileStatus",
    "StatusNotificationRequest.status": "ChargePointStatus",
    "TriggerMessageResponse.status": "TriggerMessageStatus",
    "UnlockConnectorResponse.status": "UnlockStatus",
}

#: Every version the generator knows, by name.
VERSIONS: Mapping[str, VersionFacts] = {
    "1.6": VersionFacts(
        name="1.6",
        package="v16",
        request_suffix="",
        custom_data=False,
        inline_names=_V16_INLINE_NAMES,
        # The Security Extension's enumerations that share a name with a core 1.6 type.
        definition_renames={
            "FirmwareStatusEnumType": "SignedFirmwareStatusEnumType",
            "MessageTriggerEnumType": "ExtendedMessageTriggerEnumType",
            "TriggerMessageStatusEnumType": "ExtendedTriggerMessageStatusEnumType",
        },
    ),
    "2.0.1": VersionFacts(name="2.0.1", package="v201"),
    "2.1": VersionFacts(name="2.1", package="v21", send_messages=True),
}

#: Every keyword the schemas use, and whether we honour it or why it can be ignored.
_KEYWORDS: Mapping[str, str] = {
    "$schema": "ignored: draft-06 (1.6 core: draft-04)",
    "$id": "ignored",
    "title": "ignored",
    "$ref": "the referenced class",
    "comment": "ignored",
    "description": "docstring",
    "javaType": "ignored",
    "default": "annotation only: noted in a comment",
    "definitions": "classes",
    "type": "Python type",
    "properties": "Struct fields",
    "required": "fields without default",
    "additionalProperties": "forbid_unknown_fields",
    "enum": "StrEnum",
    "format": "date-time -> DateTime, uri -> Uri",
    "maxLength": "Meta(max_length)",
    "minLength": "Meta(min_length)",
    "pattern": "Meta(pattern)",
    "minimum": "Meta(ge)",
    "maximum": "Meta(le)",
    "exclusiveMinimum": "Meta(gt)",
    "exclusiveMaximum": "Meta(lt)",
    "multipleOf": "__post_init__ check (decimal)",
    "items": "list[...]",
    "additionalItems": "ignored: only applies when items is an array",
    "minItems": "Meta(min_length) on the list",
    "maxItems": "Meta(max_length) on the list",
}

#: The one open object of the schemas, modelled by fleet/ocpp/customdata.py; its
#: schema (descriptions aside) must be exactly this, or that module needs a look.
_CUSTOM_DATA_DEFINITION = "CustomDataType"
_CUSTOM_DATA_CLASS = "CustomData"
_CUSTOM_DATA_SCHEMA: Mapping[str, Any] = {
    "javaType": "CustomData",
    "type": "object",
    "properties": {"vendorId": {"type": "string", "maxLength": 255}},
    "required": ["vendorId"],
}

#: Spellings that the generic camel/Pascal-case splitting would mangle (``fullSoC``
#: would become ``full_so_c``); applied before splitting words.
_WORD_OVERRIDES: Mapping[str, str] = {"SoC": "Soc", "IKEv2": "Ikev2", "IPSec": "Ipsec"}

#: Names bound at module level in the generated file besides the generated classes
#: (plus the ``String<n>`` aliases).
_MODULE_NAMES = frozenset(
    {
        "datetime", "Annotated", "Any", "Final", "TypeAlias", "Mapping", "MappingProxyType", "StrEnum",
        "UNSET", "Meta", "Struct", "UnsetType", "field", "CustomData", "DateTime", "ACTIONS",
        "Uri", "URI_PATTERN", "check_multiple_of", "SEND_ACTIONS",
    }
)  # fmt: skip
#: Builtins used in annotations. Annotations are evaluated in the class body, where
#: an attribute with a default would shadow a module-level or builtin name used by a
#: later annotation, so no attribute may be called like any of these.
_ANNOTATION_BUILTINS = frozenset({"int", "float", "bool", "str", "list"})

_DOC_MAX_CHARS = 320
_LINE_WIDTH = 88  # docstrings
_CODE_WIDTH = 110  # as ruff's line-length


class SchemaError(Exception):
    """The schemas are not what this generator understands; it refuses to guess."""


# --------------------------------------------------------------------------- model


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    attr: str
    wire: str
    annotation: str
    required: bool
    note: str | None = None
    multiple_of: float | None = None


@dataclasses.dataclass(frozen=True)
class EnumSpec:
    name: str
    doc: str
    members: tuple[tuple[str, str], ...]


@dataclasses.dataclass(frozen=True)
class StructSpec:
    name: str
    doc: str
    fields: tuple[FieldSpec, ...]
    depends_on: frozenset[str]


@dataclasses.dataclass
class Definition:
    """One ``definitions`` entry, merged over every schema that contains it."""

    schema_name: str
    schema: dict[str, Any]
    descriptions: list[str | None]
    sources: list[str]

    @property
    def is_enum(self) -> bool:
        return "enum" in self.schema


# --------------------------------------------------------------------------- loading


def default_schema_dir(facts: VersionFacts) -> tuple[Path, str]:
    """The version's schema directory in the installed ``ocpp`` package, and how to cite it."""
    try:
        root = importlib.resources.files("ocpp") / facts.package / "schemas"
        version = importlib.metadata.version("ocpp")
    except (ModuleNotFoundError, importlib.metadata.PackageNotFoundError) as exc:
        raise SystemExit(
            "the `ocpp` package (a dev dependency) is not installed; "
            "run `make install-dev` or pass --schemas DIR"
        ) from exc
    path = Path(str(root))
    if not path.is_dir():
        raise SystemExit(f"no schema directory at {path}")
    return path, f"the `ocpp` PyPI package, version {version} (ocpp/{facts.package}/schemas)"


def load_schemas(
    directory: Path, facts: VersionFacts
) -> tuple[dict[str, tuple[dict[str, Any], dict[str, Any]]], dict[str, dict[str, Any]]]:
    """(action name -> (request schema, response schema), SEND action -> its schema), sorted by action."""
    requests: dict[str, dict[str, Any]] = {}
    responses: dict[str, dict[str, Any]] = {}
    sends: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        stem = path.stem
        schema = json.loads(path.read_text(encoding="utf-8"))
        if stem.endswith("Response"):
            responses[stem.removesuffix("Response")] = schema
        elif stem.endswith(facts.request_suffix):
            requests[stem.removesuffix(facts.request_suffix) if facts.request_suffix else stem] = schema
        elif facts.send_messages:
            sends[stem] = schema
        else:
            raise SchemaError(f"{path.name}: neither a Request nor a Response schema")
    if not requests:
        raise SchemaError(f"no schemas found in {directory}")
    unpaired = sorted(requests.keys() ^ responses.keys())
    if unpaired:
        raise SchemaError(f"actions without both a request and a response schema: {unpaired}")
    clash = sorted(sends.keys() & requests.keys())
    if clash:
        raise SchemaError(f"actions both confirmed and unconfirmed: {clash}")
    return {action: (requests[action], responses[action]) for action in sorted(requests)}, dict(
        sorted(sends.items())
    )


def check_keywords(node: Any, where: str) -> None:
    """Fail on any JSON schema keyword this generator does not know how to handle."""
    if not isinstance(node, dict):
        raise SchemaError(f"{where}: expected a schema object, got {node!r}")
    unknown = sorted(node.keys() - _KEYWORDS.keys())
    if unknown:
        raise SchemaError(f"{where}: unsupported keyword(s) {unknown}")
    for container in ("properties", "definitions"):
        for name, child in node.get(container, {}).items():
            check_keywords(child, f"{where}/{container}/{name}")
    if "items" in node:
        if not isinstance(node["items"], dict):
            raise SchemaError(f"{where}: tuple-style `items` is not supported")
        check_keywords(node["items"], f"{where}/items")


def rename_definitions(schema: dict[str, Any], renames: Mapping[str, str]) -> dict[str, Any]:
    """``schema`` with its definitions named as ``renames`` says (and its ``$ref``s following)."""
    if not renames:
        return schema
    refs = {f"#/definitions/{old}": f"#/definitions/{new}" for old, new in renames.items()}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                key: refs.get(value, value) if key == "$ref" else walk(value) for key, value in node.items()
            }
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    renamed = walk(schema)
    if "definitions" in renamed:
        renamed["definitions"] = {renames.get(k, k): v for k, v in renamed["definitions"].items()}
    return renamed


def hoist_inline_definitions(
    schema: dict[str, Any], message: str, names: Mapping[str, str]
) -> dict[str, Any]:
    """``schema`` with every inline object and enumeration moved into ``definitions``.

    An object becomes the definition ``<Class>Type``, an enumeration ``<Class>EnumType``,
    where ``<Class>`` is ``names["<Parent>.<property>"]`` or ``names["<property>"]``
    (``<Parent>`` being the class the property is in: the message or a hoisted
    object); any inline schema without a name is an error. Nested ones go first, so
    a hoisted object refers to its hoisted children by ``$ref``.
    """
    schema = copy.deepcopy(schema)
    definitions: dict[str, Any] = schema.setdefault("definitions", {})

    def hoist(node: dict[str, Any], parent: str) -> None:
        for wire, prop in node.get("properties", {}).items():
            holder, key = (prop, "items") if prop.get("type") == "array" else (node["properties"], wire)
            target = holder[key]
            is_object = target.get("type") == "object" and "properties" in target
            if not (is_object or "enum" in target):
                continue
            name = names.get(f"{parent}.{wire}") or names.get(wire)
            if name is None:
                raise SchemaError(f"{message}: no class name for the inline schema of {parent}.{wire}")
            if is_object:
                hoist(target, name)
            definition = f"{name}Type" if is_object else f"{name}EnumType"
            if definitions.get(definition, target) != target:
                raise SchemaError(f"{message}: two different inline schemas named {name}")
            definitions[definition] = target
            holder[key] = {"$ref": f"#/definitions/{definition}"}

    hoist(schema, message)
    if not definitions:
        del schema["definitions"]
    return schema


def normalise(
    schemas: Mapping[str, tuple[dict[str, Any], dict[str, Any]]], facts: VersionFacts
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """The schemas in the one shape the rest of the generator reads (see the module docstring)."""
    if not facts.inline_names and not facts.definition_renames:
        return dict(schemas)
    shaped: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for action, (request, response) in schemas.items():
        request, response = (rename_definitions(s, facts.definition_renames) for s in (request, response))
        shaped[action] = (
            hoist_inline_definitions(request, f"{action}Request", facts.inline_names),
            hoist_inline_definitions(response, f"{action}Response", facts.inline_names),
        )
    return shaped


def _without_descriptions(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_descriptions(value) for key, value in node.items() if key != "description"}
    if isinstance(node, list):
        return [_without_descriptions(item) for item in node]
    return node


def _structure(node: Any) -> Any:
    """``node`` without the keywords that do not constrain anything (descriptions, javaType)."""
    if isinstance(node, dict):
        return {
            key: _structure(value) for key, value in node.items() if key not in ("description", "javaType")
        }
    if isinstance(node, list):
        return [_structure(item) for item in node]
    return node


def collect_definitions(schemas: Mapping[str, dict[str, Any]]) -> dict[str, Definition]:
    """Merge the ``definitions`` of all schemas; same name must mean same structure.

    The first schema's copy is kept (the OCPP 1.6 Security Extension gives
    ``CertificateHashDataType`` a ``javaType`` in one schema only).
    """
    merged: dict[str, Definition] = {}
    for message, schema in schemas.items():
        source = f"{message}.json"
        check_keywords(schema, source)
        for name, definition in schema.get("definitions", {}).items():
            known = merged.get(name)
            if known is None:
                merged[name] = Definition(name, definition, [definition.get("description")], [source])
                continue
            if _structure(known.schema) != _structure(definition):
                raise SchemaError(f"definition {name} differs between {known.sources[0]} and {source}")
            known.descriptions.append(definition.get("description"))
            known.sources.append(source)
    return merged


# --------------------------------------------------------------------------- naming


def _split_words(name: str) -> list[str]:
    for spelling, replacement in _WORD_OVERRIDES.items():
        name = name.replace(spelling, replacement)
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)  # OCSPRequest -> OCSP_Request
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)  # evseId -> evse_Id
    name = re.sub(r"([0-9])([A-Z][a-z])", r"\1_\2", name)  # iso15118Certificate, but L2TP
    return [word for word in name.split("_") if word]


def snake_case(name: str) -> str:
    """``ocspResponderURL`` -> ``ocsp_responder_url``, ``fullSoC`` -> ``full_soc``."""
    return "_".join(_split_words(name)).lower()


def constant_case(value: str) -> str:
    """Enum member name: ``Energy.Active.Import.Register`` -> ``ENERGY_ACTIVE_IMPORT_REGISTER``."""
    return "_".join(_split_words(value)).upper()


def camel_case_by_msgspec(attr: str) -> str:
    """The wire name msgspec's ``rename="camel"`` derives from an attribute name."""
    probe = msgspec.defstruct("Probe", [(attr, int)], rename="camel")
    return probe.__struct_encode_fields__[0]


def class_names(definitions: Mapping[str, Definition], messages: Iterable[str]) -> dict[str, str]:
    """Schema definition name -> Python class name; fails on any collision."""
    datatypes = {name: name.removesuffix("Type") for name, d in definitions.items() if not d.is_enum}
    taken = set(datatypes.values())
    names = dict(datatypes)
    for name, definition in definitions.items():
        if definition.is_enum:
            short = name.removesuffix("Type").removesuffix("Enum")
            # `IdTokenEnumType` and `IdTokenType` both exist: the datatype keeps the
            # short name and the enum keeps its `Enum` suffix (its javaType).
            names[name] = short + "Enum" if short in taken else short
    names[_CUSTOM_DATA_DEFINITION] = _CUSTOM_DATA_CLASS
    owners: dict[str, str] = {message: f"the message {message}" for message in messages}
    for schema_name, class_name in sorted(names.items()):
        if class_name in owners:
            raise SchemaError(f"class name {class_name} of {schema_name} is taken by {owners[class_name]}")
        if class_name in _MODULE_NAMES - {_CUSTOM_DATA_CLASS} or re.fullmatch(r"String\d+", class_name):
            raise SchemaError(f"class name {class_name} of {schema_name} shadows a module-level name")
        if not class_name.isidentifier() or keyword.iskeyword(class_name):
            raise SchemaError(f"{schema_name}: {class_name!r} is not a usable class name")
        owners[class_name] = schema_name
    return names


# --------------------------------------------------------------------------- docstrings


def clean_description(description: str | None) -> str:
    """One modest paragraph of prose from a schema description ('' if there is none).

    The OCA descriptions often start with a data-dictionary name and a URN line
    ("Charge_ Point / urn:x-oca:ocpp:uid:2:233122 / The physical system ..."):
    only the text after the last URN line is kept. AsciiDoc cross references
    (``<<anchor,Text>>``) are reduced to their text.
    """
    if not description:
        return ""
    lines = [
        line.strip()
        for line in html.unescape(description).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ]
    urn_lines = [index for index, line in enumerate(lines) if line.startswith("urn:")]
    if urn_lines:
        lines = lines[urn_lines[-1] + 1 :]
    paragraphs = re.split(r"\n\s*\n", "\n".join(lines).strip())
    text = " ".join(paragraphs[0].split())
    text = re.sub(r"<<[^,>]*,\s*([^>]*)>>", r"\1", text)
    text = re.sub(r"<<([^>]*)>>", r"\1", text)
    if len(text) > _DOC_MAX_CHARS:
        cut = text[:_DOC_MAX_CHARS]
        sentence_end = cut.rfind(". ")
        text = cut[: sentence_end + 1] if sentence_end > 0 else cut.rsplit(" ", 1)[0] + " ..."
    return text


def definition_doc(definition: Definition) -> str:
    texts = {clean_description(d) for d in definition.descriptions} - {""}
    if len(texts) == 1:
        return texts.pop()
    kind = "Values of" if definition.is_enum else "Datatype"
    if len(texts) > 1:
        # Shared enums are described per use ("Indicates whether the request was
        # accepted"); no single one of those texts is right for the class.
        return f"{kind} ``{definition.schema_name}``, shared by several messages."
    return f"{kind} ``{definition.schema_name}``."


def render_docstring(text: str, indent: str) -> list[str]:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    one_line = f'{indent}"""{text}"""'
    if len(one_line) <= _LINE_WIDTH and not text.endswith('"'):
        return [one_line]
    lines = textwrap.wrap(
        text,
        width=_LINE_WIDTH,
        initial_indent=f'{indent}"""',
        subsequent_indent=indent,
        break_on_hyphens=False,
        break_long_words=False,
    )
    return [*lines, f'{indent}"""']


# --------------------------------------------------------------------------- types


class TypeMapper:
    """Turns property schemas into annotation source text."""

    def __init__(self, definitions: Mapping[str, Definition], names: Mapping[str, str]) -> None:
        self.definitions = definitions
        self.names = names
        self.string_lengths: set[int] = set()
        self.uses_uri = False

    def reference(self, ref: str, where: str) -> str:
        prefix = "#/definitions/"
        if not ref.startswith(prefix) or ref[len(prefix) :] not in self.definitions:
            raise SchemaError(f"{where}: unresolvable $ref {ref!r}")
        return ref[len(prefix) :]

    def annotation(self, schema: Mapping[str, Any], where: str) -> tuple[str, set[str]]:
        """(annotation, names of the generated Structs it uses)."""
        if "$ref" in schema:
            extra = sorted(schema.keys() - {"$ref", "description"})
            if extra:
                # draft-06 ignores keywords next to $ref; make sure nobody relies on them.
                raise SchemaError(f"{where}: keywords {extra} next to $ref")
            target = self.reference(schema["$ref"], where)
            name = self.names[target]
            is_struct = not self.definitions[target].is_enum and target != _CUSTOM_DATA_DEFINITION
            return name, {name} if is_struct else set()
        if schema.keys() <= {"description"}:
            return "Any", set()  # no constraint at all: any JSON value, null included
        kind = schema.get("type")
        if "enum" in schema:
            raise SchemaError(f"{where}: inline enums are not supported (only enum definitions)")
        if kind == "string":
            return self._string(schema, where), set()
        if kind in ("integer", "number"):
            return self._number(schema, where), set()
        if kind == "boolean":
            return "bool", set()
        if kind == "array":
            item, uses = self.annotation(schema["items"], f"{where}/items")
            meta = _meta(min_length=schema.get("minItems"), max_length=schema.get("maxItems"))
            return (f"Annotated[list[{item}], {meta}]" if meta else f"list[{item}]"), uses
        raise SchemaError(f"{where}: unsupported property type {kind!r}")

    def _string(self, schema: Mapping[str, Any], where: str) -> str:
        if "format" in schema:
            if schema["format"] not in ("date-time", "uri") or schema.keys() - {
                "type",
                "format",
                "description",
            }:
                raise SchemaError(f"{where}: unsupported string format/constraints {dict(schema)}")
            if schema["format"] == "uri":
                self.uses_uri = True
                return "Uri"
            return "DateTime"
        max_length = schema.get("maxLength")
        if max_length is not None and schema.keys() <= {"type", "maxLength", "description", "default"}:
            self.string_lengths.add(max_length)
            return f"String{max_length}"
        meta = _meta(min_length=schema.get("minLength"), max_length=max_length, pattern=schema.get("pattern"))
        return f"Annotated[str, {meta}]" if meta else "str"

    def _number(self, schema: Mapping[str, Any], where: str) -> str:
        python_type = "int" if schema["type"] == "integer" else "float"
        if "multipleOf" in schema:
            raise SchemaError(f"{where}: multipleOf is only supported on a property of an object")
        schema = _draft06_bounds(schema, where)
        bounds: dict[str, Any] = {}
        for keyword_, option in (
            ("minimum", "ge"),
            ("maximum", "le"),
            ("exclusiveMinimum", "gt"),
            ("exclusiveMaximum", "lt"),
        ):
            if keyword_ in schema:
                value = schema[keyword_]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SchemaError(f"{where}: {keyword_} must be a number (draft-06)")
                if python_type == "int" and float(value).is_integer():
                    value = int(value)
                bounds[option] = value
        meta = _meta(**bounds)
        return f"Annotated[{python_type}, {meta}]" if meta else python_type


def _draft06_bounds(schema: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """Draft-04's boolean ``exclusiveMinimum``/``exclusiveMaximum`` in draft-06 form.

    In draft-04 ``"exclusiveMinimum": true`` makes ``minimum`` exclusive (``false``
    changes nothing); in draft-06 ``exclusiveMinimum`` is itself the bound.
    """
    converted = dict(schema)
    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = converted.get(exclusive)
        if not isinstance(flag, bool):
            continue
        del converted[exclusive]
        if flag:
            if bound not in converted:
                raise SchemaError(f"{where}: {exclusive}: true without {bound}")
            converted[exclusive] = converted.pop(bound)
    return converted


def _meta(**options: Any) -> str:
    given = ", ".join(f"{name}={value!r}" for name, value in options.items() if value is not None)
    return f"Meta({given})" if given else ""


# --------------------------------------------------------------------------- specs


def enum_spec(definition: Definition, name: str) -> EnumSpec:
    schema = definition.schema
    where = definition.schema_name
    if schema.get("type") != "string" or not schema["enum"]:
        raise SchemaError(f"{where}: enums must be non-empty string enums")
    members: dict[str, str] = {}
    for value in schema["enum"]:
        if not isinstance(value, str):
            raise SchemaError(f"{where}: enum value {value!r} is not a string")
        member = constant_case(value)
        if not member.isidentifier() or member[0] == "_" or keyword.iskeyword(member):
            raise SchemaError(f"{where}: enum value {value!r} gives no usable member name")
        if member in members:
            raise SchemaError(f"{where}: values {members[member]!r} and {value!r} both map to {member}")
        members[member] = value
    return EnumSpec(name, definition_doc(definition), tuple(members.items()))


def object_fields(
    schema: Mapping[str, Any], where: str, mapper: TypeMapper
) -> tuple[list[FieldSpec], set[str]]:
    if schema.get("type") != "object":
        raise SchemaError(f"{where}: expected an object schema")
    if schema.get("additionalProperties") is not False:
        raise SchemaError(f"{where}: object is open (no additionalProperties: false)")
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = schema.get("required", [])
    missing = sorted(set(required) - properties.keys())
    if missing or len(set(required)) != len(required):
        raise SchemaError(f"{where}: bad `required` list {required}")
    fields: list[FieldSpec] = []
    uses: set[str] = set()
    attrs: dict[str, str] = {}
    for wire, prop in properties.items():
        attr = snake_case(wire)
        if keyword.iskeyword(attr):
            attr += "_"
        if not attr.isidentifier():
            raise SchemaError(f"{where}: property {wire!r} gives no usable attribute name")
        if attr in attrs:
            raise SchemaError(f"{where}: properties {attrs[attr]!r} and {wire!r} both map to {attr}")
        if attr in _MODULE_NAMES | _ANNOTATION_BUILTINS:
            raise SchemaError(f"{where}: attribute {attr} would shadow a module-level name")
        attrs[attr] = wire
        multiple_of = prop.get("multipleOf")
        if multiple_of is not None:
            if isinstance(multiple_of, bool) or not isinstance(multiple_of, int | float) or multiple_of <= 0:
                raise SchemaError(f"{where}/properties/{wire}: multipleOf must be a positive number")
            prop = {key: value for key, value in prop.items() if key != "multipleOf"}
        annotation, used = mapper.annotation(prop, f"{where}/properties/{wire}")
        uses |= used
        note = _field_note(prop, mapper)
        if multiple_of is not None:
            note = f"multiple of {multiple_of!r}, checked in __post_init__"
        fields.append(FieldSpec(attr, wire, annotation, wire in required, note, multiple_of))
    # Required fields first, then optional ones, then customData; schema order otherwise.
    fields.sort(key=lambda f: (not f.required, f.wire == "customData"))
    return fields, uses


def _field_note(prop: Mapping[str, Any], mapper: TypeMapper) -> str | None:
    if prop.keys() <= {"description"}:
        return "any JSON value, null included"
    default = prop.get("default")
    if default is None and "$ref" in prop:
        default = mapper.definitions[mapper.reference(prop["$ref"], "")].schema.get("default")
    if default is None:
        return None
    return f"default: {json.dumps(default)}"


def struct_spec(name: str, doc: str, schema: Mapping[str, Any], where: str, mapper: TypeMapper) -> StructSpec:
    fields, uses = object_fields(schema, where, mapper)
    return StructSpec(name, doc, tuple(fields), frozenset(uses))


def check_custom_data(definitions: Mapping[str, Definition]) -> None:
    definition = definitions.get(_CUSTOM_DATA_DEFINITION)
    if definition is None:
        raise SchemaError(f"no {_CUSTOM_DATA_DEFINITION} definition")
    if _without_descriptions(definition.schema) != _CUSTOM_DATA_SCHEMA:
        raise SchemaError(
            f"{_CUSTOM_DATA_DEFINITION} changed: {definition.schema}; update fleet/ocpp/customdata.py "
            "and _CUSTOM_DATA_SCHEMA"
        )


def dependency_order(structs: Mapping[str, StructSpec]) -> list[StructSpec]:
    """Structs ordered so that each comes after the structs it uses (ties: by name)."""
    waiting = {name: set(spec.depends_on) for name, spec in structs.items()}
    users: dict[str, set[str]] = {name: set() for name in structs}
    for name, deps in waiting.items():
        for dep in deps:
            users[dep].add(name)
    ready = [name for name, deps in waiting.items() if not deps]
    heapq.heapify(ready)
    ordered: list[StructSpec] = []
    while ready:
        name = heapq.heappop(ready)
        ordered.append(structs[name])
        for user in users[name]:
            waiting[user].discard(name)
            if not waiting[user]:
                heapq.heappush(ready, user)
    if len(ordered) != len(structs):
        cyclic = sorted(set(structs) - {spec.name for spec in ordered})
        raise SchemaError(f"recursive datatypes are not supported: {cyclic}")
    return ordered


# --------------------------------------------------------------------------- rendering


_MODULE_DOC = '''\
"""OCPP {version} message payloads as msgspec Structs (generated, see the header).

One frozen ``Struct`` per request and response (``BootNotificationRequest``,
``BootNotificationResponse``, ...), one per datatype (``ChargingStationType`` ->
``ChargingStation``) and one ``StrEnum`` per enumeration (``BootReasonEnumType`` ->
``BootReason``). ``ACTIONS`` maps each action name to its (request, response) types.

* Attributes are snake_case; on the wire every property keeps its schema name.
* Optional properties default to ``UNSET`` and are left out when encoding; JSON
  ``null`` is never accepted. Unknown properties are rejected.
* Lengths, bounds, array sizes and date-times are checked when decoding. Integer
  fields accept JSON integers only (``5.0`` is rejected).
{custom_data}"""
'''

_CUSTOM_DATA_DOC = """\
* ``customData`` is the open :class:`~fleet.ocpp.customdata.CustomData`, which needs
  the hooks of ``fleet.ocpp.customdata``: decode and encode with the ready-made
  decoders and encoder of :mod:`fleet.ocpp.{package}`.
"""

_CONSTRAINTS_DOC = """\
* ``format: uri`` and ``multipleOf`` are checked with :mod:`fleet.ocpp.constraints`.
  Decode and encode with the ready-made decoders and encoder of
  :mod:`fleet.ocpp.{package}`.
"""

_BASE_CLASS = '''\
class _Payload(
    Struct,
    rename="camel",
    omit_defaults=True,
    forbid_unknown_fields=True,
    frozen=True,
    kw_only=True,
    repr_omit_defaults=True,
    gc=False,
):
    """Base of every generated Struct: camelCase wire names, closed, immutable.

    ``gc=False``: payloads never form reference cycles, so the garbage collector
    need not track them; thousands of messages per second then add nothing to
    its work. The subclasses repeat ``frozen=True, kw_only=True`` only because type
    checkers do not inherit those options from a base class (msgspec does).
    """
'''


def render_module(
    facts: VersionFacts,
    source: str,
    enums: list[EnumSpec],
    datatypes: list[StructSpec],
    messages: list[StructSpec],
    actions: Mapping[str, tuple[str, str]],
    sends: list[str],
    string_lengths: Iterable[int],
    uses_uri: bool,
) -> str:
    uses_multiple_of = any(f.multiple_of is not None for spec in datatypes + messages for f in spec.fields)
    constraints = [
        name for name, used in (("URI_PATTERN", uses_uri), ("check_multiple_of", uses_multiple_of)) if used
    ]
    module_notes = _CUSTOM_DATA_DOC if facts.custom_data else _CONSTRAINTS_DOC if constraints else ""
    out: list[str] = [
        f"# Generated by tools/generate_messages.py from the OCA OCPP {facts.name} JSON schemas",
        f"# shipped in {source}.",
        "# DO NOT EDIT: regenerate with `make generate` (= .venv/bin/python tools/generate_messages.py).",
        _MODULE_DOC.format(version=facts.name, custom_data=module_notes.format(package=facts.package)),
        "import datetime",
        "from collections.abc import Mapping",
        "from enum import StrEnum",
        "from types import MappingProxyType",
        "from typing import Annotated, Any, Final, TypeAlias",
        "",
        "from msgspec import UNSET, Meta, Struct, UnsetType, field",
        "",
    ]
    if constraints:
        out.append(f"from ..constraints import {', '.join(constraints)}")
    if facts.custom_data:
        out.append("from ..customdata import CustomData")
    out.append("")
    public = sorted(
        [spec.name for spec in enums]
        + [spec.name for spec in datatypes + messages]
        + ["ACTIONS"]
        + (["SEND_ACTIONS"] if sends else [])
    )
    out.append("__all__ = [")
    out += [f'    "{name}",' for name in public]
    out += ["]", "", ""]
    out.append("#: A date-time with a UTC offset (RFC 3339, as the schemas' `format: date-time`).")
    out.append("DateTime: TypeAlias = Annotated[datetime.datetime, Meta(tz=True)]")
    if uses_uri:
        out.append("#: A URI (RFC 3986, as the schemas' `format: uri`).")
        out.append("Uri: TypeAlias = Annotated[str, Meta(pattern=URI_PATTERN)]")
    for length in sorted(string_lengths):
        out.append(f"String{length}: TypeAlias = Annotated[str, Meta(max_length={length})]")
    out += ["", "", _BASE_CLASS, "", "# " + "-" * 30 + " enumerations"]
    for enum in enums:
        out += ["", "", f"class {enum.name}(StrEnum):"]
        out += render_docstring(enum.doc, "    ")
        out.append("")
        out += [f'    {member} = "{value}"' for member, value in enum.members]

    out += ["", "", "# " + "-" * 30 + " datatypes"]
    for spec in datatypes:
        out += render_struct(spec)
    out += ["", "", "# " + "-" * 30 + " messages"]
    for spec in messages:
        out += render_struct(spec)

    out += [
        "",
        "",
        f"#: Action name -> (request payload type, response payload type), all {len(actions)} actions.",
        "ACTIONS: Final[Mapping[str, tuple[type[Struct], type[Struct]]]] = MappingProxyType(",
        "    {",
    ]
    for action, (request, response) in actions.items():
        line = f'        "{action}": ({request}, {response}),'
        if len(line) > _CODE_WIDTH:
            line = f'        "{action}": (\n            {request},\n            {response},\n        ),'
        out.append(line)
    out += ["    }", ")", ""]
    if sends:
        out += [
            "",
            "#: Action name -> payload type of the unconfirmed messages (OCPP-J SEND, never answered).",
            "SEND_ACTIONS: Final[Mapping[str, type[Struct]]] = MappingProxyType(",
            "    {",
        ]
        out += [f'        "{action}": {action},' for action in sends]
        out += ["    }", ")", ""]
    return "\n".join(out)


def render_struct(spec: StructSpec) -> Iterator[str]:
    yield ""
    yield ""
    yield f"class {spec.name}(_Payload, frozen=True, kw_only=True):"
    yield from render_docstring(spec.doc, "    ")
    if spec.fields:
        yield ""
    for f in spec.fields:
        annotation = f.annotation if f.required else f"{f.annotation} | UnsetType"
        name = f'name="{f.wire}"' if camel_case_by_msgspec(f.attr) != f.wire else None
        if f.required:
            default = f"field({name})" if name else None
        else:
            default = f"field(default=UNSET, {name})" if name else "UNSET"
        line = f"    {f.attr}: {annotation}" + (f" = {default}" if default else "")
        if len(line) > _CODE_WIDTH:
            # Parenthesise a long annotation, as ruff format would.
            yield f"    {f.attr}: ("
            yield f"        {annotation}"
            line = "    )" + (f" = {default}" if default else "")
        if f.note:
            line += f"  # {f.note}"
        yield line
    checked = [f for f in spec.fields if f.multiple_of is not None]
    if checked:
        yield ""
        yield "    def __post_init__(self) -> None:"
        for f in checked:
            yield f'        check_multiple_of(self.{f.attr}, "{f.multiple_of!r}", "{f.wire}")'


# --------------------------------------------------------------------------- main


def generate(facts: VersionFacts, directory: Path, source: str) -> str:
    pairs, sends = load_schemas(directory, facts)
    schemas = normalise(pairs, facts)
    by_message = {
        f"{action}{kind}": schema
        for action, pair in schemas.items()
        for kind, schema in zip(("Request", "Response"), pair, strict=True)
    }
    by_message.update(sends)
    definitions = collect_definitions(by_message)
    if facts.custom_data:
        check_custom_data(definitions)
    elif _CUSTOM_DATA_DEFINITION in definitions:
        raise SchemaError(f"OCPP {facts.name}: unexpected {_CUSTOM_DATA_DEFINITION}")
    names = class_names(definitions, by_message)
    mapper = TypeMapper(definitions, names)

    enums = sorted(
        (enum_spec(d, names[n]) for n, d in definitions.items() if d.is_enum),
        key=lambda spec: spec.name,
    )
    structs: dict[str, StructSpec] = {}
    for schema_name, definition in definitions.items():
        if definition.is_enum or schema_name == _CUSTOM_DATA_DEFINITION:
            continue
        name = names[schema_name]
        structs[name] = struct_spec(name, definition_doc(definition), definition.schema, schema_name, mapper)

    messages: list[StructSpec] = []
    actions: dict[str, tuple[str, str]] = {}
    for action, (request, response) in schemas.items():
        pair: list[str] = []
        for kind, schema, role in (("Request", request, "CALL"), ("Response", response, "CALLRESULT")):
            name = f"{action}{kind}"
            doc = f"Payload of the ``{action}`` {kind.lower()} ({role})."
            messages.append(struct_spec(name, doc, schema, f"{name}.json", mapper))
            pair.append(name)
        actions[action] = (pair[0], pair[1])
    for action, schema in sends.items():
        doc = f"Payload of the ``{action}`` message (SEND: unconfirmed, never answered)."
        messages.append(struct_spec(action, doc, schema, f"{action}.json", mapper))

    return render_module(
        facts,
        source,
        enums,
        dependency_order(structs),
        messages,
        actions,
        list(sends),
        mapper.string_lengths,
        mapper.uses_uri,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--version",
        choices=list(VERSIONS),
        action="append",
        help="the OCPP version to generate (repeatable; default: every version)",
    )
    parser.add_argument(
        "--schemas", type=Path, help="directory of the version's schemas (one --version only)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if an output file is out of date")
    parser.add_argument(
        "--output", type=Path, help="output file (one --version only; default: its messages.py)"
    )
    args = parser.parse_args(argv)
    chosen = [VERSIONS[name] for name in args.version or VERSIONS]
    if (args.schemas or args.output) and len(chosen) != 1:
        parser.error("--schemas and --output need exactly one --version")
    status = 0
    for facts in chosen:
        status = max(
            status, generate_version(facts, args.schemas, args.output or facts.output, check=args.check)
        )
    return status


def generate_version(facts: VersionFacts, schemas: Path | None, output: Path, *, check: bool) -> int:
    """Write (or with ``check``, compare) one version's module: 0 done, 1 stale, 2 bad schemas."""
    if schemas is None:
        directory, source = default_schema_dir(facts)
    else:
        directory, source = schemas, f"the schema directory {schemas.name}/"
        with contextlib.suppress(SystemExit):
            package_directory, package_source = default_schema_dir(facts)
            if directory.resolve() == package_directory.resolve():
                source = package_source
    try:
        code = generate(facts, directory, source)
    except SchemaError as exc:
        print(f"generate_messages: OCPP {facts.name}: {exc}", file=sys.stderr)
        return 2

    current = output.read_text(encoding="utf-8") if output.exists() else ""
    if check:
        if current == code:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), code.splitlines(keepends=True), str(output), "generated", n=1
        )
        sys.stderr.writelines(list(diff)[:60])
        print(f"\n{output} is out of date: run `make generate`", file=sys.stderr)
        return 1
    if current != code:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(code, encoding="utf-8")
        print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
