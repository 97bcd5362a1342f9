"""Generate connectors/fitprofile.py: the few FIT profile facts the fast decoder needs.

The fast decoder must give the same values as fitparse, so its field numbers, scales, enum names
and component layouts are taken from the profile that ships with the installed fitparse (data,
not code). Only the messages and fields listed in connectors/fitdata.py are kept, plus the
facts about *every* message that decide whether fitparse would fail on a data message (field
types whose value processors can raise, fields with components).

Run: python scripts/gen_fit_tables.py  (rewrites and formats connectors/fitprofile.py; commit both).
"""

from __future__ import annotations

import pprint
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import fitparse
from fitparse.profile import FIELD_TYPE_TIMESTAMP, MESSAGE_TYPES
from fitparse.records import BaseType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runstrong_sync.connectors import fitdata  # noqa: E402

KEPT_MESSAGES: dict[int, tuple[str, ...]] = {
    0: fitdata.FILE_ID_FIELDS,
    18: fitdata.SESSION_FIELDS,
    19: fitdata.LAP_FIELDS,
    20: fitdata.RECORD_FIELDS,
    34: fitdata.ACTIVITY_FIELDS,
}
# Types whose fitparse value processor can raise on odd values (see FitFileDataProcessor).
GUARDED_TYPES = ("date_time", "local_date_time", "localtime_into_day")


def _kind(field_type: object) -> tuple[str, str | None]:
    """How a kept value is rendered: plain number, enum name, or one of the two date types."""
    name = field_type.name  # type: ignore[attr-defined]
    if name in ("date_time", "local_date_time"):
        return name, name if getattr(field_type, "values", None) else None
    if isinstance(field_type, BaseType):
        return "num", None
    if getattr(field_type, "values", None):
        return "enum", name
    return "num", None


def _number(value: object) -> int | float | None:
    # fitparse tests scale/offset for truthiness; keep them as they are (None, int or float).
    assert value is None or isinstance(value, (int, float)), value
    return value


def _enum_table(enums: dict[str, dict[int, str]], type_name: str | None, field_type: Any) -> None:
    if type_name is not None and type_name not in enums:
        enums[type_name] = dict(sorted(field_type.values.items()))


def _add_subfields(
    mesg: Any,
    def_num: int,
    fld: Any,
    wanted: set[str],
    enums: dict[str, dict[int, str]],
    subfields: dict[int, dict[int, tuple[tuple[object, ...], ...]]],
) -> set[str]:
    """The kept subfields of ``fld``; returns their names."""
    found: set[str] = set()
    for sub in fld.subfields or ():
        assert not sub.components, (mesg.name, sub.name)  # not handled: none in our messages
        # a kept subfield is read through its parent field, so the parent must be kept too
        assert sub.name not in wanted or fld.name in wanted, (mesg.name, sub.name)
        if fld.name in wanted:
            kind, enum_name = _kind(sub.type)
            _enum_table(enums, enum_name, sub.type)
            refs = tuple((ref.def_num, ref.raw_value) for ref in sub.ref_fields)
            subfields.setdefault(mesg.mesg_num, {}).setdefault(def_num, ())
            subfields[mesg.mesg_num][def_num] += (
                (sub.name, kind, enum_name, _number(sub.scale), _number(sub.offset), refs),
            )
            found.add(sub.name)
    return found


def _add_components(
    mesg: Any,
    fields: dict[int, Any],
    def_num: int,
    fld: Any,
    wanted: set[str],
    components: dict[int, dict[int, tuple[tuple[object, ...], ...]]],
    acc_resets: dict[int, dict[int, tuple[int, ...]]],
) -> None:
    """The components of ``fld`` that expand into kept fields, and the accumulators they reset."""
    for comp in fld.components or ():
        target: Any = fields[comp.def_num]
        if comp.accumulate and target.name in wanted:
            acc_resets.setdefault(mesg.mesg_num, {}).setdefault(def_num, ())
            acc_resets[mesg.mesg_num][def_num] += (comp.def_num,)
        if target.name not in wanted:
            continue
        assert not target.subfields, (mesg.name, target.name)
        kind, _ = _kind(target.type)
        assert kind == "num", (mesg.name, target.name, kind)  # numbers only: no render step
        components.setdefault(mesg.mesg_num, {}).setdefault(def_num, ())
        components[mesg.mesg_num][def_num] += (
            (
                target.name,
                comp.def_num,
                comp.bits,
                comp.bit_offset or 0,
                _number(comp.scale),
                _number(comp.offset),
                bool(comp.accumulate),
            ),
        )


def build() -> dict[str, object]:
    enums: dict[str, dict[int, str]] = {}
    kept: dict[int, dict[int, tuple[object, ...]]] = {}
    components: dict[int, dict[int, tuple[tuple[object, ...], ...]]] = {}
    subfields: dict[int, dict[int, tuple[tuple[object, ...], ...]]] = {}
    acc_resets: dict[int, dict[int, tuple[int, ...]]] = {}

    def enum_table(type_name: str | None, field_type: object) -> None:
        if type_name is not None and type_name not in enums:
            enums[type_name] = dict(sorted(field_type.values.items()))  # type: ignore[attr-defined]

    for mesg_num, names in KEPT_MESSAGES.items():
        mesg = MESSAGE_TYPES[mesg_num]
        fields = dict(mesg.fields)
        if mesg_num != 0:
            assert fields[253].name == "timestamp"
        wanted = set(names)
        found: set[str] = set()
        for def_num, fld in sorted(fields.items()):
            if fld.name in wanted:
                kind, enum_name = _kind(fld.type)
                enum_table(enum_name, fld.type)
                kept.setdefault(mesg_num, {})[def_num] = (
                    fld.name,
                    kind,
                    enum_name,
                    _number(fld.scale),
                    _number(fld.offset),
                )
                found.add(fld.name)
            found |= _add_subfields(mesg, def_num, fld, wanted, enums, subfields)
            _add_components(mesg, fields, def_num, fld, wanted, components, acc_resets)
        missing = wanted - found
        assert not missing, (mesg.name, missing)

    guarded: dict[str, dict[int, tuple[int, ...]]] = {name: {} for name in GUARDED_TYPES}
    with_components: dict[int, tuple[int, ...]] = {}
    profile_base: dict[int, dict[int, int]] = {}
    for mesg_num, mesg in sorted(MESSAGE_TYPES.items()):
        for def_num, fld in sorted(mesg.fields.items()):
            type_name = fld.type.name
            for sub in fld.subfields or ():
                assert sub.type.name not in GUARDED_TYPES, (mesg.name, sub.name)
                for comp in sub.components or ():
                    assert not comp.accumulate, (mesg.name, sub.name)  # fitparse would KeyError
            for comp in fld.components or ():
                assert mesg.fields[comp.def_num].type.name not in GUARDED_TYPES
            interesting = False
            if type_name in GUARDED_TYPES:
                guarded[type_name][mesg_num] = (*guarded[type_name].get(mesg_num, ()), def_num)
                interesting = True
            if fld.components or any(sub.components for sub in fld.subfields or ()):
                with_components[mesg_num] = (*with_components.get(mesg_num, ()), def_num)
                interesting = True
            if interesting:
                profile_base.setdefault(mesg_num, {})[def_num] = fld.base_type.identifier
    assert FIELD_TYPE_TIMESTAMP.def_num == 253 and FIELD_TYPE_TIMESTAMP.type.name == "date_time"
    local_values = dict(MESSAGE_TYPES[34].fields[5].type.values)
    return {
        "PROFILE_SOURCE": f"fitparse {getattr(fitparse, '__version__', '?')}",
        "ENUMS": enums,
        "KEPT_FIELDS": kept,
        "KEPT_SUBFIELDS": subfields,
        "KEPT_COMPONENTS": components,
        "ACCUMULATOR_RESETS": acc_resets,
        "DATE_TIME_FIELDS": guarded["date_time"],
        "LOCAL_DATE_TIME_FIELDS": guarded["local_date_time"],
        "LOCALTIME_INTO_DAY_FIELDS": guarded["localtime_into_day"],
        "LOCAL_DATE_TIME_VALUES": local_values,
        "COMPONENT_FIELDS": with_components,
        "PROFILE_BASE_TYPES": profile_base,
    }


HEADER = '''"""FIT profile facts for connectors/fitfast.py.

GENERATED by scripts/gen_fit_tables.py - do not edit.

Source: the profile of {source} (field numbers, scales, offsets, enum names, components), so the
fast decoder names and scales values exactly as fitparse does.

KEPT_FIELDS[mesg][field] = (name, kind, enum, scale, offset); kind: num | enum | date_time | local_date_time
KEPT_SUBFIELDS[mesg][field] = ((name, kind, enum, scale, offset, ((ref_field, ref_raw), ...)), ...)
KEPT_COMPONENTS[mesg][field] = ((target, target_field, bits, bit_offset, scale, offset, accumulate), ...)
ACCUMULATOR_RESETS[mesg][field] = target fields whose accumulator a definition of `field` resets
*_FIELDS[mesg] = field numbers of that type / with components, in every profile message
PROFILE_BASE_TYPES[mesg][field] = profile base type id of those guarded fields
"""

from __future__ import annotations

from typing import Final, TypeAlias

Number: TypeAlias = int | float | None
FieldSpec: TypeAlias = tuple[str, str, str | None, Number, Number]
SubfieldSpec: TypeAlias = tuple[str, str, str | None, Number, Number, tuple[tuple[int, int], ...]]
ComponentSpec: TypeAlias = tuple[str, int, int, int, Number, Number, bool]

'''

TYPES = {
    "PROFILE_SOURCE": "str",
    "ENUMS": "dict[str, dict[int, str]]",
    "KEPT_FIELDS": "dict[int, dict[int, FieldSpec]]",
    "KEPT_SUBFIELDS": "dict[int, dict[int, tuple[SubfieldSpec, ...]]]",
    "KEPT_COMPONENTS": "dict[int, dict[int, tuple[ComponentSpec, ...]]]",
    "ACCUMULATOR_RESETS": "dict[int, dict[int, tuple[int, ...]]]",
    "DATE_TIME_FIELDS": "dict[int, tuple[int, ...]]",
    "LOCAL_DATE_TIME_FIELDS": "dict[int, tuple[int, ...]]",
    "LOCALTIME_INTO_DAY_FIELDS": "dict[int, tuple[int, ...]]",
    "LOCAL_DATE_TIME_VALUES": "dict[int, str]",
    "COMPONENT_FIELDS": "dict[int, tuple[int, ...]]",
    "PROFILE_BASE_TYPES": "dict[int, dict[int, int]]",
}


def main() -> None:
    tables = build()
    source = str(tables["PROFILE_SOURCE"])
    parts = [HEADER.format(source=source)]
    for name, value in tables.items():
        text = pprint.pformat(value, width=110, compact=True, sort_dicts=False)
        parts.append(f"{name}: Final[{TYPES[name]}] = {text}\n\n")
    out = ROOT / "connectors" / "fitprofile.py"
    out.write_text("".join(parts).rstrip() + "\n")
    ruff = shutil.which("ruff")
    if ruff:  # keep `ruff format --check .` quiet on the generated module
        subprocess.run([ruff, "format", "--quiet", str(out)], check=True)
    print(f"wrote {out.relative_to(ROOT)} from {source}")


if __name__ == "__main__":
    main()
