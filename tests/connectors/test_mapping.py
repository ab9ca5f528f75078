"""Vendor ids to billflow ids through the rule files and a connector's `map` option."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.mapping import VendorMapping
from engine.errors import UnmappedRecord
from engine.ruleset.loader import load_ruleset

NORTHWIND = Path(__file__).resolve().parents[2] / "examples" / "northwind"
RECORD = "time_entry 636709355"


@pytest.fixture(scope="module")
def rules():
    return load_ruleset(NORTHWIND)


def mapping(rules, **options) -> VendorMapping:
    return VendorMapping(rules, "harvest", "Harvest", options)


def test_a_client_is_found_by_its_external_id_whatever_its_json_type(rules) -> None:
    assert mapping(rules).client(RECORD, 20418120) == "atlas-outfitters"
    assert mapping(rules).client(RECORD, "20418120") == "atlas-outfitters"
    assert mapping(rules, clients={"999": "bowery-hotels"}).client(RECORD, 999) == "bowery-hotels"


def test_an_unknown_client_names_the_record_and_the_fix(rules) -> None:
    with pytest.raises(UnmappedRecord) as caught:
        mapping(rules).client(RECORD, 1)
    assert caught.value.record == RECORD
    assert str(caught.value) == (f"{RECORD}: Harvest client 1 is no billflow client's "
                                 f"external_ids.harvest")
    assert not caught.value.retryable


def test_a_project_maps_to_the_billflow_project_and_its_client(rules) -> None:
    m = mapping(rules, projects={14307913: "atlas-outfitters-shoots"})
    assert m.project(RECORD, "14307913") == ("atlas-outfitters-shoots", "atlas-outfitters")
    with pytest.raises(UnmappedRecord, match=r"Harvest project 5 \(Website\) is not in the "
                                             r"connector's map.projects"):
        m.project(RECORD, 5, name="Website")
    wrong = mapping(rules, projects={7: "no-such-project"})
    with pytest.raises(UnmappedRecord, match="'no-such-project', which no engagement lists"):
        wrong.project(RECORD, 7)


def test_people_by_map_then_by_email_and_roles_by_map_then_first_role(rules) -> None:
    m = mapping(rules, people={"1782959": "priya"}, roles={"Design": "designer"})
    assert m.person(RECORD, 1782959) == "priya"
    assert m.person(RECORD, 42, email="Dana@Northwind.example ") == "dana"
    with pytest.raises(UnmappedRecord, match=r"Harvest user 42 <x@y.example> is not in map.people"):
        m.person(RECORD, 42, email="x@y.example")
    assert m.role(RECORD, "dana", "Design") == "designer"
    assert m.role(RECORD, "dana", "Unknown task") == rules.agency.people["dana"].roles[0]
