"""Reads infra/terraform without terraform: python-hcl2 parses the files, and a small
evaluator computes the expressions they use (variables at their defaults, locals,
`for_each` keys, `jsonencode`, `toset`, conditionals, `[for x in r : x.attr]`).

A reference to another resource's attribute stays symbolic (`Ref`), so a test can
ask which resource instance an ARN or URL belongs to and read that instance's name.
Anything outside this subset raises, so a new construct fails loudly instead of
being misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

# Plain Python values: quoted strings unquoted, blocks as lists of dicts.
_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
_INTERPOLATION = re.compile(r"\$\{((?:[^{}]|\{[^{}]*\})*)\}")
_CONDITIONAL = re.compile(r'^(?P<test>[\w.]+) \? "(?P<yes>[^"]*)" : "(?P<no>[^"]*)"$')
_CALL = re.compile(r"^(?P<name>jsonencode|toset)\((?P<argument>.*)\)$", re.S)
_FOR = re.compile(r"^\[for (?P<item>\w+) in (?P<collection>[\w.]+) : (?P=item)\.(?P<attr>\w+)\]$")
_FOR_OBJECT = re.compile(
    r"^\{for (?P<key>\w+), (?P<item>\w+) in (?P<collection>[\w.]+) : "
    r"(?P=key) => (?P=item)\.(?P<attr>\w+)\}$"
)
_INDEX = r'\[(?:"(?P<literal>[^"]*)"|(?P<reference>[^\]]+))\]'
_PATH_PART = re.compile(rf"\.(?P<attr>[\w-]+)|{_INDEX}")
# aws_sqs_queue.source[each.key].arn, data.aws_iam_policy_document.relay.json
_RESOURCE = re.compile(rf"(?P<address>(?:data\.)?\w+\.[\w-]+)(?:{_INDEX})?\.(?P<attribute>\w+)")
_DATA = "data"


@dataclass(frozen=True, slots=True)
class Ref:
    """An attribute of a resource (or data source) instance, known only after apply."""

    address: str  # "aws_sqs_queue.source", "data.aws_iam_policy_document.relay"
    key: str | None  # the for_each key; None for a resource without for_each
    attribute: str

    def __str__(self) -> str:
        index = "" if self.key is None else f'["{self.key}"]'
        return f"{self.address}{index}.{self.attribute}"


class Terraform:
    def __init__(self, directory: Path, **variables: Any) -> None:
        self.blocks: dict[str, list[dict[str, Any]]] = {}
        for path in sorted(directory.glob("*.tf")):
            with path.open() as file:
                for kind, entries in hcl2.load(file, serialization_options=_OPTIONS).items():
                    self.blocks.setdefault(kind, []).extend(entries)
        self.variables = {**self.defaults(), **variables}
        self.locals = {k: v for block in self.blocks.get("locals", []) for k, v in block.items()}

    def defaults(self) -> dict[str, Any]:
        return {
            name: self.evaluate(spec.get("default"), {})
            for entry in self.blocks["variable"]
            for name, spec in entry.items()
        }

    def variable(self, name: str) -> dict[str, Any]:
        [spec] = [entry[name] for entry in self.blocks["variable"] if name in entry]
        return spec

    def declaration(self, address: str) -> dict[str, Any]:
        *data, kind, name = address.split(".")
        blocks = self.blocks[_DATA if data else "resource"]
        [body] = [entry[kind][name] for entry in blocks if name in entry.get(kind, {})]
        return body

    def keys(self, address: str) -> list[str | None]:
        for_each = self.declaration(address).get("for_each")
        return [None] if for_each is None else list(self.evaluate(for_each, {}))

    def instances(self, address: str) -> Iterator[tuple[str | None, dict[str, Any]]]:
        """Each instance's key and body, its expressions evaluated for that key."""
        declaration = self.declaration(address)
        for_each = self.evaluate(declaration.get("for_each"), {})
        for key in self.keys(address):
            each = {} if key is None else {"key": key, "value": for_each[key]}
            body = {k: v for k, v in declaration.items() if k != "for_each"}
            yield key, self.evaluate(body, each)

    def instance(self, ref: Ref) -> dict[str, Any]:
        return dict(self.instances(ref.address))[ref.key]

    def name_of(self, ref: Ref) -> str:
        """The `name` of the instance an ARN, URL or id reference points at."""
        name: str = self.instance(ref)["name"]
        return name

    def outputs(self) -> dict[str, Any]:
        return {
            name: self.evaluate(spec["value"], {})
            for entry in self.blocks["output"]
            for name, spec in entry.items()
        }

    # -- expressions ------------------------------------------------------------------

    def evaluate(self, value: Any, each: dict[str, Any]) -> Any:
        if isinstance(value, dict):
            return {k: self.evaluate(v, each) for k, v in value.items()}
        if isinstance(value, list):
            return [self.evaluate(v, each) for v in value]
        if not isinstance(value, str):
            return value
        whole = _INTERPOLATION.fullmatch(value)
        if whole:
            return self._expression(whole.group(1).strip(), each)
        return _INTERPOLATION.sub(lambda m: str(self._expression(m.group(1), each)), value)

    def _expression(self, text: str, each: dict[str, Any]) -> Any:
        if conditional := _CONDITIONAL.match(text):
            chosen = self._reference(conditional["test"], each)
            return conditional["yes"] if chosen else conditional["no"]
        if call := _CALL.match(text):
            argument = self._literal(call["argument"], each)
            # A set's each.value is its element, as its key.
            return argument if call["name"] == "jsonencode" else {v: v for v in argument}
        if loop := _FOR.match(text):
            address = loop["collection"]
            return [Ref(address, key, loop["attr"]) for key in self.keys(address)]
        if loop := _FOR_OBJECT.match(text):
            address = loop["collection"]
            return {key: Ref(address, key, loop["attr"]) for key in self.keys(address)}
        if text.startswith(("{", "[")):
            return self._literal(text, each)
        return self._reference(text, each)

    def _literal(self, text: str, each: dict[str, Any]) -> Any:
        """An object or tuple expression: hcl2 parses it, its parts are evaluated."""
        parsed = hcl2.loads(f"v = {text}", serialization_options=_OPTIONS)["v"]
        assert isinstance(parsed, dict | list), f"not an expression this reader knows: {text}"
        return self.evaluate(parsed, each)

    def _reference(self, text: str, each: dict[str, Any]) -> Any:
        root, _, path = text.partition(".")
        scopes = {"var": self.variables, "local": self.locals, "each": each}
        if root in scopes:
            value = scopes[root]
            for step in _steps("." + path):
                value = value[step["attr"] or self._key(step["literal"], step["reference"], each)]
            return self.evaluate(value, each) if root == "local" else value
        resource = _RESOURCE.fullmatch(text)
        assert resource is not None, f"not an expression this reader knows: {text}"
        key = self._key(resource["literal"], resource["reference"], each)
        return Ref(resource["address"], key, resource["attribute"])

    def _key(self, literal: str | None, reference: str | None, each: dict[str, Any]) -> Any:
        """What `["name"]` or `[each.key]` selects."""
        return literal if reference is None else self._reference(reference, each)


def _steps(path: str) -> list[re.Match[str]]:
    """`.name` and `[index]` steps, which must make up the whole path."""
    steps = list(_PATH_PART.finditer(path))
    assert "".join(step[0] for step in steps) == path, f"not a path this reader knows: {path}"
    return steps


def policy_json(document: dict[str, Any]) -> list[dict[str, Any]]:
    """An aws_iam_policy_document's statements as the IAM JSON they render to."""
    statements = []
    for statement in document["statement"]:
        rendered: dict[str, Any] = {"Effect": statement.get("effect", "Allow")}
        if "sid" in statement:
            rendered["Sid"] = statement["sid"]
        for principal in statement.get("principals", []):
            rendered.setdefault("Principal", {})[principal["type"]] = principal["identifiers"]
        rendered["Action"] = statement["actions"]
        rendered["Resource"] = statement["resources"]
        for condition in statement.get("condition", []):
            tests = rendered.setdefault("Condition", {}).setdefault(condition["test"], {})
            tests[condition["variable"]] = condition["values"]
        statements.append(rendered)
    return statements
