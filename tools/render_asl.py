"""`make asl`: the workflow's ASL with its DefinitionSubstitutions filled in, for validators that read ASL
but not SAM (asl-validator, statelint).

    python tools/render_asl.py [repository root] > .handoff/deployment.rendered.asl.json"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ecs_handoff_embedded.provision import load_template

ROOT = Path(__file__).resolve().parents[1]


def render_for_validation(root: Path, account_id: str = "123456789012", region: str = "ap-northeast-1") -> str:
    """The workflow definition with its DefinitionSubstitutions filled by ARNs of the shape the stack's
    resources have."""
    template = load_template(root / "template.yaml")
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::StateMachine"]
    props = machines[0]["Properties"]
    definition: str = (root / str(props["DefinitionUri"])).read_text(encoding="utf-8")
    for key in props.get("DefinitionSubstitutions", {}):
        name = re.sub(r"(?<!^)(?=[A-Z])", "-", key.removesuffix("FunctionArn").removesuffix("Arn")).lower()
        arn = f"arn:aws:lambda:{region}:{account_id}:function:handoff-dev-{name}"
        definition = definition.replace("${" + key + "}", arn)
    if "${" in definition:
        raise RuntimeError("a substitution the template does not define is left in the definition")
    return definition


if __name__ == "__main__":
    sys.stdout.write(render_for_validation(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT))
