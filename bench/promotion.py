"""What promotion costs (issue 28): the intake's local check of a statement, the cold-start import it adds, and
`handoff promote` end to end on the embedded AWS. `python bench/promotion.py` alone (about 30 s), or as the last step of `make bench`.

Targets: verifying adds <= 100 ms p50 to the intake; `handoff promote` completes its checks and upload in <= 3 s p50."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

IMPORT = (
    "import time; t = time.perf_counter(); "
    "from cryptography.hazmat.primitives import hashes; "
    "from cryptography.hazmat.primitives.asymmetric import ec; "
    "from cryptography.hazmat.primitives.serialization import load_pem_public_key; "
    "print((time.perf_counter() - t) * 1000)"
)


def verification() -> tuple[float, float, int]:
    """(p50 ms, p99 ms, signed bytes) of promotion.verify on a ten-image statement, in a warm process."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from ecs_handoff import promotion
    from ecs_handoff.models import iso
    from ecs_handoff.models.registry import PromotionRule

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    arn = "arn:aws:kms:ap-northeast-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    now = datetime.now(UTC)
    images = [
        {"container": f"c{i}", "repository": f"team/repo-{i}", "digest": "sha256:" + f"{i:x}" + "a" * 63}
        for i in range(10)
    ]
    predicate = promotion.PromotionPredicate.model_validate(
        {
            "environment": "dev",
            "account": "111111111111",
            "region": "ap-northeast-1",
            "service": "api",
            "deployment_id": "api-x",
            "succeeded_at": iso(now),
            "attested_at": iso(now),
            "soaked_seconds": 7200,
            "still_running": True,
            "images": images,
        }
    )
    payload = promotion.canonical(promotion.statement(predicate))
    message = promotion.pae(promotion.PAYLOAD_TYPE, payload)
    raw = json.dumps(promotion.envelope(payload, arn, key.sign(message, ec.ECDSA(hashes.SHA256())))).encode()
    rule = PromotionRule.model_validate(
        {"from": "dev", "soak_seconds": 3600, "key_id": arn, "public_key": pem.decode()}
    )
    uploaded = {
        i["container"]: f"222222222222.dkr.ecr.ap-northeast-1.amazonaws.com/{i['repository']}@{i['digest']}"
        for i in images
    }
    times = []
    for _ in range(300):
        started = time.perf_counter()
        promotion.verify(raw, rule, "api", uploaded, now)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99)], len(message)


def cold_import() -> list[float]:
    """ms to import what verification needs, each in a fresh interpreter (a cold start pays it once)."""
    return [float(subprocess.check_output([sys.executable, "-c", IMPORT], text=True)) for _ in range(5)]


def promote_runs(n: int = 7) -> list[float]:
    """Seconds per `handoff promote` dev -> prod on the embedded AWS (alternating uploads and dry runs)."""
    from ecs_handoff import promotion
    from ecs_handoff_cli.main import main
    from ecs_handoff_embedded.runtime import EmbeddedAws
    from ecs_handoff_embedded.scenario import World, artifact, edit_registry_entry, image

    aws = EmbeddedAws(state_dir=Path(tempfile.mkdtemp()), rollout_seconds=0.3).start()
    try:
        world = World(aws)
        key = aws.stacks["dev"].outputs["PromotionKeyArn"]
        der = aws.client("kms").get_public_key(KeyId=key)["PublicKey"]
        rule = {"from": "dev", "soak_seconds": 0, "key_id": key, "public_key": promotion.public_key_pem(der)}
        edit_registry_entry(aws.client("ssm"), "prod", "api", promotion=rule)
        source = world.wait("dev", world.upload("dev", "api", artifact({"app-container": image("api", "dev-bench")})))
        times = []
        for i in range(n):
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                code = main(["promote", source.id, "--to", "prod", *(["--dry-run"] if i % 2 else []), "--json"])
            times.append(time.perf_counter() - started)
            assert code == 0
        return times
    finally:
        aws.stop()


def main() -> None:
    p50, p99, size = verification()
    imports = cold_import()
    runs = promote_runs()
    print(f"verify a ten-image statement ({size} signed bytes): p50 {p50:.3f} ms, p99 {p99:.3f} ms (target <= 100 ms)")
    print(
        f"cold-start import of cryptography's ECDSA: {min(imports):.1f}-{max(imports):.1f} ms, median {statistics.median(imports):.1f} ms"
    )
    print(
        f"handoff promote on the embedded AWS: p50 {statistics.median(runs):.2f} s, max {max(runs):.2f} s (target <= 3 s)"
    )


if __name__ == "__main__":
    main()
