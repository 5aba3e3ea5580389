"""The AWS provider's schema for chosen resource types, read from a prebuilt cdktf provider package, merged into
tests/unit/terraform_aws_schema.json (the form tests/unit/test_terraform.py's trim_schema writes).

`terraform providers schema -json` needs the provider downloaded from registry.terraform.io; where that is out
of reach, @cdktf/provider-aws on npm carries the same schema, generated from it: each type's
`synthesizeHclAttributes` (and each nested block's `*ToHclTerraform`) says which names are arguments and which
are blocks, its TypeScript config interface which are required, and the resource class's attribute getters which
are computed only. The package names the provider version it was generated from (package.json, cdktf.provider).

    npm pack @cdktf/provider-aws@21.22.1 && tar xzf cdktf-provider-aws-21.22.1.tgz
    python tools/terraform_schema_from_cdktf.py package aws_ecs_service aws_lb aws_lb_listener ..."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "unit" / "terraform_aws_schema.json"
_ENTRY = re.compile(r"(\w+): \{\s*value: (.*?),\s*isBlock: (true|false),", re.S)


def _attrs_body(source: str, start: int) -> str:
    """The `const attrs = { ... };` object that follows `start`."""
    begin = source.index("const attrs = {", start)
    return source[begin : source.index("// remove undefined attributes", begin)]


def _required(declarations: str, interface: str) -> dict[str, bool]:
    """camelCase property -> required, from `export interface <interface> { readonly name?: ...; }`."""
    found = re.search(rf"export interface {interface} (?:extends [\w.]+ )?\{{(.*?)\n\}}", declarations, re.S)
    if found is None:
        raise ValueError(f"no interface {interface}")
    return {m.group(1): not m.group(2) for m in re.finditer(r"readonly (\w+)(\?)?:", found.group(1))}


def _block(source: str, declarations: str, function: str | None) -> dict[str, Any]:
    """One block's schema: from the resource class (function None) or a nested block's *ToHclTerraform."""
    if function is None:
        start = source.index("synthesizeHclAttributes() {")
        interface = re.search(r"export interface (\w+Config) extends cdktf\.TerraformMetaArguments", declarations)
        assert interface is not None
        required = _required(declarations, interface.group(1))
    else:
        start = source.index(f"function {function}ToHclTerraform(struct) {{")
        required = _required(declarations, function[0].upper() + function[1:])
    body = _attrs_body(source, start)
    attributes: dict[str, str] = {}
    blocks: dict[str, Any] = {}
    for name, value, is_block in _ENTRY.findall(body):
        camel = re.search(r"(?:this\._|struct\.)(\w+)", value)
        assert camel is not None, value
        needed = required.get(camel.group(1), False)
        if is_block == "true":
            nested = re.search(r"(\w+)ToHclTerraform", value)
            assert nested is not None, value
            blocks[name] = {"min_items": 1 if needed else 0, **_block(source, declarations, nested.group(1))}
        else:
            attributes[name] = "required" if needed else "optional"
    if function is None:  # what the class reads back but the configuration cannot set: computed by AWS
        resource_class = source[source.index("extends cdktf.TerraformResource {") :]
        for name in re.findall(r"this\.get\w+Attribute\('(\w+)'\)", resource_class):
            attributes.setdefault(name, "computed")
    return {"attributes": dict(sorted(attributes.items())), "blocks": dict(sorted(blocks.items()))}


def resource_schema(package: Path, resource_type: str) -> dict[str, Any]:
    directory = package / "lib" / resource_type.removeprefix("aws_").replace("_", "-")
    return _block((directory / "index.js").read_text(), (directory / "index.d.ts").read_text(), None)


def main(package: Path, types: list[str]) -> None:
    meta = json.loads((package / "package.json").read_text())
    provider = meta["cdktf"]["provider"]
    source = f"{meta['name']} {meta['version']} (npm), generated from {provider['name']} {provider['version']}"
    schema = json.loads(SCHEMA.read_text())
    for resource_type in types:
        schema["resource"][resource_type] = resource_schema(package, resource_type)
    sources = dict(schema.get("sources", {}))
    sources.update({f"resource.{t}": source for t in types})
    schema["sources"] = dict(sorted(sources.items()))
    SCHEMA.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
