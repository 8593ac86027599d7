"""The committed JSON Schema (schema/pipectl.schema.json) under a real
JSON Schema validator: every pipeline of pipelines/ and every spec of
tests/fixtures/schema-valid/ passes it; every spec of
tests/fixtures/schema-invalid/ fails it. `cargo test` checks the same specs
against `pipectl validate` (tests/pipectl/schema.rs), so the schema and
pipectl agree on each of them.

The specs are read as YAML 1.2 (core schema), as pipectl and editors
(yaml-language-server) read them, not as PyYAML's YAML 1.1: `yes`, `on`
and `1_000` are strings, `0o17` an integer, and `<<` a plain key (no merge)."""

import json
import math
import pathlib
import re

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schema" / "pipectl.schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


class Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with the YAML 1.2 core schema's resolvers in
    place of YAML 1.1's, and no merge keys."""

    def flatten_mapping(self, node):
        pass


Yaml12Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]:
    Yaml12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{tag}", re.compile(pattern), list(first))


def construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def construct_float(loader, node):
    text = loader.construct_scalar(node)
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body.lower() == ".inf":
        return sign * math.inf
    if body.lower() == ".nan":
        return math.nan
    return float(text)


def construct_bool(loader, node):
    return loader.construct_scalar(node).lower() == "true"


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)


def specs(folder):
    found = sorted((ROOT / folder).glob("*.yaml"))
    assert found, f"no specs in {folder}"
    return found


def load(path):
    return yaml.load(path.read_text(), Loader=Yaml12Loader)


def test_the_schema_is_a_valid_draft_07_schema():
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_specs_are_read_as_yaml_1_2():
    text = "a: yes\nb: 1_000\nc: 0o17\nd: 0x1F\ne: True\nf: nan\ng: .inf\nh: 1e3\ni: on\nj: ~\n"
    doc = yaml.load(text, Loader=Yaml12Loader)
    assert doc == {
        "a": "yes", "b": "1_000", "c": 15, "d": 31, "e": True, "f": "nan", "g": math.inf, "h": 1000.0, "i": "on",
        "j": None,
    }
    assert yaml.load("x: &a {k: 1}\ny:\n  <<: *a\n", Loader=Yaml12Loader)["y"] == {"<<": {"k": 1}}


def defaults(node, where="#"):
    """Each (place, property schema, default) in the schema."""
    if isinstance(node, dict):
        if "default" in node:
            yield where, node, node["default"]
        for key, value in node.items():
            if key == "properties":
                # Field names, not keywords: a field may be called `default`.
                for name, prop in value.items():
                    yield from defaults(prop, f"{where}/properties/{name}")
            else:
                yield from defaults(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from defaults(value, f"{where}/{i}")


def test_the_schema_flags_a_valid_value_that_is_its_own_default():
    found = list(defaults(SCHEMA))
    assert len(found) >= 40
    bad = []
    for where, prop, default in found:
        own = jsonschema.Draft7Validator({k: v for k, v in prop.items() if k != "default"})
        errors = list(own.iter_errors(default))
        if errors:
            bad.append(f"{where}: {default!r}: {errors[0].message}")
    assert bad == []


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
