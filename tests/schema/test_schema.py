"""The committed JSON Schema (schema/pipectl.schema.json) under a real
JSON Schema validator: every pipeline of pipelines/ and every spec of
tests/fixtures/schema-valid/ passes it; every spec of
tests/fixtures/schema-invalid/ fails it. `cargo test` checks the same specs
against `pipectl validate` (tests/pipectl/schema.rs), so the schema and
pipectl agree on each of them."""

import json
import pathlib

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "pipectl.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def specs(folder):
    found = sorted((ROOT / folder).glob("*.yaml"))
    assert found, f"no specs in {folder}"
    return found


def load(path):
    return yaml.safe_load(path.read_text())


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", specs("pipelines"), ids=lambda p: p.name)
def test_every_pipeline_is_valid(path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", specs("pipelines"), ids=lambda p: p.name)
def test_every_pipeline_names_the_schema_for_editors(path):
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schema/pipectl.schema.json"


@pytest.mark.parametrize("path", specs("tests/fixtures/schema-valid"), ids=lambda p: p.name)
def test_what_pipectl_accepts_is_valid(path):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(load(path))]
    assert errors == []


@pytest.mark.parametrize("path", specs("tests/fixtures/schema-invalid"), ids=lambda p: p.name)
def test_every_invalid_fixture_fails(path):
    errors = list(VALIDATOR.iter_errors(load(path)))
    assert errors, f"{path.name} should fail the schema"
