"""#18 KMS (kms): a CloudFormation AWS::KMS::Key gets the KeySpec and KeyUsage its template gives (moto makes
every template key SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT), so a stack's ECC_NIST_P256 SIGN_VERIFY key signs as
in AWS. CloudFormation User Guide, AWS::KMS::Key: KeySpec (default SYMMETRIC_DEFAULT), KeyUsage (default
ENCRYPT_DECRYPT). test_gaps.test_kms_template_key_has_its_key_spec."""

from __future__ import annotations

import json
from typing import Any

from ecs_handoff_embedded.gaps.patching import Undo, replace


def install_template_key_specs() -> Undo:
    from moto.kms.models import Key, kms_backends

    def create_from_cloudformation_json(
        cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_backends[account_id][region_name].create_key(
            policy=json.dumps(policy) if isinstance(policy, dict) else policy,
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key

    return replace(Key, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))
