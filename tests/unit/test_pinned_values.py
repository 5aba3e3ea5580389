"""Behaviour pinned with literal values: each limit at, below and above its edge; the fields AWS
documents as read-only; a fixed HMAC test vector and a fixed clock for approval links; and a
decompression that stops reading at the limit. The expected values are written out here, never read
from the module under test, so a changed constant fails a test."""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from typing import Any

import pytest
from ecs_handoff import artifact
from ecs_handoff.approvals import links
from ecs_handoff.artifact import image_reference_problem, parse_image_definitions, read_artifact
from ecs_handoff.errors import ArtifactRejected
from ecs_handoff.models import ImageDefinition
from ecs_handoff.taskdef import render

from tests.helpers import zip_members

ECR = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com"

# --- artifact: the zip ---------------------------------------------------------------------------------


def stored_zip_of_size(total: int) -> bytes:
    """A valid artifact (stored, not compressed) padded with a second member to exactly `total` bytes."""
    body = json.dumps([{"name": "app", "imageUri": f"{ECR}/api:v1"}]).encode()

    def build(padding: int) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("imagedefinitions.json", body)
            archive.writestr("padding.bin", b"x" * padding)
        return buffer.getvalue()

    overhead = len(build(0))
    data = build(total - overhead)
    assert len(data) == total
    return data


def test_zip_of_exactly_1_mib_is_read_and_one_byte_more_is_refused() -> None:
    assert read_artifact(stored_zip_of_size(1_048_576))[0].name == "app"
    with pytest.raises(ArtifactRejected, match=r"^the zip is 1048577 bytes; the limit is 1048576 bytes \(1 MiB\)$"):
        read_artifact(stored_zip_of_size(1_048_577))


def test_empty_object_is_refused_with_what_to_upload() -> None:
    with pytest.raises(
        ArtifactRejected, match=r"^the object is empty \(0 bytes\); upload a zip that holds imagedefinitions.json$"
    ):
        read_artifact(b"")


def json_of_size(total: int) -> bytes:
    """A valid imagedefinitions.json of exactly `total` bytes (trailing spaces are valid JSON)."""
    body = json.dumps([{"name": "app", "imageUri": f"{ECR}/api:v1"}]).encode()
    return body + b" " * (total - len(body))


def test_json_of_exactly_100_kib_is_read_and_one_byte_more_is_refused() -> None:
    assert read_artifact(zip_members({"imagedefinitions.json": json_of_size(102_400)}))[0].name == "app"
    with pytest.raises(
        ArtifactRejected,
        match=r"^imagedefinitions.json is larger than 102400 bytes \(100 KiB\) uncompressed, CodePipeline's limit; ",
    ):
        read_artifact(zip_members({"imagedefinitions.json": json_of_size(102_401)}))


def test_decompression_stops_reading_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a member that inflates to 50 MB, and a count of every byte zipfile hands out
    data = zip_members({"imagedefinitions.json": b"[" + b" " * 50_000_000 + b"]"})
    handed_out: list[int] = []
    original = zipfile.ZipExtFile.read

    def counted(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        chunk = original(self, n)
        handed_out.append(len(chunk))
        return chunk

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    # WHEN it is read  THEN it is refused after at most the limit and one byte were decompressed
    with pytest.raises(ArtifactRejected, match="larger than 102400 bytes"):
        read_artifact(data)
    assert sum(handed_out) <= 102_401


def test_member_names_that_escape_or_hide_are_refused() -> None:
    cases = {
        "../imagedefinitions.json": "escapes the archive root",
        "a/../../imagedefinitions.json": "escapes the archive root",
        "/imagedefinitions.json": "is absolute",
        "\\imagedefinitions.json": "is absolute",
        "C:imagedefinitions.json": "is absolute",
        "a\\imagedefinitions.json": "contains a backslash",
    }
    for name, problem in cases.items():
        with pytest.raises(ArtifactRejected, match=f"whose path {problem}"):
            read_artifact(zip_members({name: b"[]", "imagedefinitions.json": b"[]"}))


def test_a_corrupt_member_is_refused_as_corrupt() -> None:
    good = zip_members({"imagedefinitions.json": json.dumps([{"name": "a", "imageUri": "nginx"}]).encode()})
    # flip a byte of the compressed data (after the 30-byte local header and the 21-byte name)
    broken = bytearray(good)
    broken[30 + 21 + 2] ^= 0xFF
    with pytest.raises(ArtifactRejected, match=r"^the zip is corrupt or truncated \("):
        read_artifact(bytes(broken))
    assert zlib.crc32(b"") == 0  # (zlib is what zipfile checks the CRC with)


# --- artifact: the JSON --------------------------------------------------------------------------------


def entries(count: int) -> bytes:
    return json.dumps([{"name": f"c{i}", "imageUri": f"{ECR}/api:v{i}"} for i in range(count)]).encode()


def test_ten_containers_are_accepted_and_eleven_refused() -> None:
    assert len(parse_image_definitions(entries(10))) == 10
    with pytest.raises(
        ArtifactRejected, match=r"^imagedefinitions.json lists 11 containers; a task definition holds at most 10$"
    ):
        parse_image_definitions(entries(11))


def reference_of_length(total: int) -> str:
    prefix = f"{ECR}/"
    return prefix + "a" * (total - len(prefix) - 3) + ":v1"


def test_image_references_of_255_characters_are_accepted_and_256_refused() -> None:
    assert image_reference_problem(reference_of_length(255)) is None
    assert image_reference_problem(reference_of_length(256)) == "is 256 characters long; ECS accepts at most 255"


def test_tags_of_128_characters_are_accepted_and_129_refused() -> None:
    assert image_reference_problem("nginx:" + "t" * 128) is None
    assert image_reference_problem("nginx:" + "t" * 129) == (
        "is not a valid image reference (expected registry/repository[:tag][@digest])"
    )


@pytest.mark.parametrize(
    "reference",
    [
        "nginx@sha256:a",  # a digest needs at least 32 hex characters
        "nginx@sha256:" + "a" * 31,
        "team/../nginx:1",  # no empty or dot path components
        "team/./nginx:1",
        "team//nginx:1",
        "team/ng..inx:1",  # separators are one "." or "_", "__", or dashes
        "team/nginx.:1",
        "team/nginx_:1",
        "Nginx:1",  # repositories are lower case
        "nginx:-1",  # a tag starts with a word character
        "nginx:.1",
        "-registry.example.com/nginx:1",
        "nginx:1:2",
    ],
)
def test_malformed_references_are_refused(reference: str) -> None:
    assert image_reference_problem(reference) == (
        "is not a valid image reference (expected registry/repository[:tag][@digest])"
    )


@pytest.mark.parametrize(
    "reference",
    [
        "nginx@sha256:" + "a" * 32,
        "nginx@sha256:" + "0123456789abcdef" * 4,
        "registry.example.com:5000/team/app_1/x-y:v1.2-rc_3",
        "a" * 1 + ":" + "t",
        "my.registry/a__b/c--d:tag@sha256:" + "f" * 64,
    ],
)
def test_well_formed_references_are_accepted(reference: str) -> None:
    assert image_reference_problem(reference) is None


@pytest.mark.parametrize(
    ("reference", "problem"),
    [
        ("", "is empty"),
        ("nginx:${TAG}", "contains an unresolved placeholder; the CI step did not substitute its variables"),
        ("nginx:$(git rev-parse)", "contains an unresolved placeholder; the CI step did not substitute its variables"),
        ("nginx :1", "contains whitespace"),
        ("nginx\t:1", "contains whitespace"),
        ("nginx\x01:1", "contains a control character (U+0001)"),
        ("nginx\x7f:1", "contains a control character (U+007F)"),
        ("nginx\u00e9:1", "contains a non-ASCII character (U+00E9)"),
        ("nginx~:1", "is not a valid image reference (expected registry/repository[:tag][@digest])"),
    ],
)
def test_reference_problems_are_named_exactly(reference: str, problem: str) -> None:
    assert image_reference_problem(reference) == problem


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("a", True), ("A_b-9", True), ("x" * 255, True), ("x" * 256, False), ("", False), ("a.b", False), ("a b", False)],
)
def test_container_names(name: str, accepted: bool) -> None:
    raw = json.dumps([{"name": name, "imageUri": "nginx:1"}]).encode()
    if accepted:
        assert parse_image_definitions(raw)[0].name == name
    else:
        with pytest.raises(ArtifactRejected, match=r"^entry 1: container name .* is not valid \(letters, digits, "):
            parse_image_definitions(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"name": "a"}', 'imagedefinitions.json must be a JSON array of {"name", "imageUri"} objects, not a JSON object'),  # noqa: E501
        (b"[]", "imagedefinitions.json is an empty array; list at least one container"),
        (b'["x"]', 'entry 1 must be an object with "name" and "imageUri", not a JSON string'),
        (b"[null]", 'entry 1 must be an object with "name" and "imageUri", not a JSON null'),
        (b"[1.5]", 'entry 1 must be an object with "name" and "imageUri", not a JSON number'),
        (b"[true]", 'entry 1 must be an object with "name" and "imageUri", not a JSON boolean'),
        (b'[{"name": "a"}]', "entry 1 is missing 'imageUri'"),
        (b'[{"imageUri": "nginx"}]', "entry 1 is missing 'name'"),
        (b'[{"name": 1, "imageUri": "nginx"}]', "entry 1: 'name' must be a string, not number"),
        (b'[{"name": "a", "imageUri": ["x"]}]', "entry 1: 'imageUri' must be a string, not array"),
        (b'[{"name": "a", "imageUri": "nginx", "tag": "1"}]', "entry 1 has unknown key 'tag'; only \"name\" and \"imageUri\" are allowed"),  # noqa: E501
        (b'[{"name": "a", "name": "b", "imageUri": "nginx"}]', "an entry has the key 'name' twice; each key may appear once"),  # noqa: E501
        (b'[{"name": "a", "imageUri": "nginx"}, {"name": "a", "imageUri": "nginx"}]', "container 'a' is listed more than once"),  # noqa: E501
        (b'[{"name": "a", "imageUri": "nginx:${T}"}]', "entry 1 (a): image 'nginx:${T}' contains an unresolved placeholder; the CI step did not substitute its variables"),  # noqa: E501
        (b"\xff[]", "imagedefinitions.json is not valid UTF-8 (byte 0); save it as UTF-8 JSON"),
        (b"[", "imagedefinitions.json is not valid JSON: Expecting value at line 1 column 2"),
    ],
)  # fmt: skip
def test_json_refusals_say_exactly_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(ArtifactRejected) as info:
        parse_image_definitions(raw)
    assert str(info.value) == message


def test_the_second_entry_is_named_as_entry_2() -> None:
    raw = json.dumps([{"name": "a", "imageUri": "nginx"}, {"name": "b"}]).encode()
    with pytest.raises(ArtifactRejected, match=r"^entry 2 is missing 'imageUri'$"):
        parse_image_definitions(raw)


def test_module_limits_are_the_documented_numbers() -> None:
    # (the tests above pin the behaviour; these pin the names other modules import)
    assert (artifact.MAX_ZIP_BYTES, artifact.MAX_JSON_BYTES, artifact.MAX_ENTRIES, artifact.MAX_IMAGE_REF) == (
        1_048_576,
        102_400,
        10,
        255,
    )
    assert artifact.MEMBER_NAME == "imagedefinitions.json"


# --- taskdef: what RegisterTaskDefinition must not be given ------------------------------------------

# DescribeTaskDefinition returns these; RegisterTaskDefinition refuses them (ECS API reference).
AWS_READ_ONLY = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
]


def described_base(**extra: Any) -> dict[str, Any]:
    return {
        "taskDefinitionArn": "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:1",
        "family": "dev-api",
        "revision": 1,
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "ecs.capability.execution-role-awslogs"}],
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2026-01-01T00:00:00Z",
        "registeredBy": "arn:aws:iam::123456789012:role/terraform",
        "deregisteredAt": "2026-01-02T00:00:00Z",
        "deleteRequestedAt": "2026-01-03T00:00:00Z",
        "containerDefinitions": [{"name": "app", "image": "nginx:1"}, {"name": "log-router", "image": "fluent:1"}],
        "cpu": "256",
        **extra,
    }


def test_render_drops_exactly_the_fields_aws_documents_as_read_only() -> None:
    spec = render(described_base(), [], [ImageDefinition(name="app", image_uri="nginx:2")], "api-v2", "v2")
    assert sorted(set(described_base()) - set(spec)) == sorted(AWS_READ_ONLY)
    assert spec["family"] == "dev-api" and spec["cpu"] == "256"
    assert spec["containerDefinitions"] == [
        {"name": "app", "image": "nginx:2"},
        {"name": "log-router", "image": "fluent:1"},
    ]


def test_render_strips_every_stale_handoff_tag_and_keeps_terraforms() -> None:
    base_tags = [
        {"key": "team", "value": "payments"},
        {"key": "handoff:deployment-id", "value": "api-old"},
        {"key": "handoff:source-version", "value": "old"},
        {"key": "handoff:something-else", "value": "x"},
    ]
    spec = render(described_base(), base_tags, [ImageDefinition(name="app", image_uri="nginx:2")], "api-v2", "v2")
    assert spec["tags"] == [
        {"key": "team", "value": "payments"},
        {"key": "handoff:deployment-id", "value": "api-v2"},
        {"key": "handoff:source-version", "value": "v2"},
    ]


@pytest.mark.parametrize(("terraform_tags", "fits"), [(47, True), (48, True), (49, False)])
def test_render_needs_room_for_its_two_tags_within_50(terraform_tags: int, fits: bool) -> None:
    base_tags = [{"key": f"k{i}", "value": "v"} for i in range(terraform_tags)]
    images = [ImageDefinition(name="app", image_uri="nginx:2")]
    if fits:
        assert len(render(described_base(), base_tags, images, "api-v2", "v2")["tags"]) == terraform_tags + 2
    else:
        with pytest.raises(
            ArtifactRejected,
            match=r"^the base task definition has 49 tags; handoff needs room for 2 more \(ECS allows 50\)$",
        ):
            render(described_base(), base_tags, images, "api-v2", "v2")


def test_render_cuts_tag_values_at_256_characters() -> None:
    spec = render(described_base(), [], [ImageDefinition(name="app", image_uri="nginx:2")], "d" * 300, "v" * 300)
    assert [len(t["value"]) for t in spec["tags"]] == [256, 256]


# --- approval links: a fixed test vector and a fixed clock ---------------------------------------------

KEY = b"handoff-test-key"
CLAIMS = links.LinkClaims("0123456789abcdef0123456789abcdef", "alice@example.com", 1_800_000_000)
# HMAC-SHA256(KEY, "handoff-approval-v1\x1f<approval id>\x1f<approver>\x1f<expiry>"), base64url without
# padding: computed once with the standard library's hmac, independently of the module.
SIGNATURE = "2m0h3P0CDcIVVzVQrTtiDetknXhc-CrmZN3kt6SA-Tk"


def test_link_signature_matches_the_fixed_vector() -> None:
    assert links.sign(KEY, CLAIMS) == SIGNATURE
    assert len(SIGNATURE) == 43  # 32 bytes, base64url, no padding


def test_link_signature_covers_the_version_tag_and_the_lower_cased_approver() -> None:
    assert CLAIMS.message() == (
        b"handoff-approval-v1\x1f0123456789abcdef0123456789abcdef\x1falice@example.com\x1f1800000000"
    )
    shouting = links.LinkClaims(CLAIMS.approval_id, "ALICE@EXAMPLE.COM", CLAIMS.expires)
    assert links.sign(KEY, shouting) == SIGNATURE


def test_link_verifies_only_the_exact_signature() -> None:
    assert links.verify(KEY, CLAIMS, SIGNATURE)
    assert not links.verify(KEY, CLAIMS, SIGNATURE[:-1])
    assert not links.verify(KEY, CLAIMS, SIGNATURE + "A")
    assert not links.verify(KEY, CLAIMS, "")
    assert not links.verify(b"another-key", CLAIMS, SIGNATURE)
    later = links.LinkClaims(CLAIMS.approval_id, CLAIMS.approver, CLAIMS.expires + 1)
    assert not links.verify(KEY, later, SIGNATURE)


def test_link_expires_at_its_exact_second() -> None:
    assert not links.expired(CLAIMS, now=1_799_999_999)
    assert not links.expired(CLAIMS, now=1_799_999_999.999)
    assert links.expired(CLAIMS, now=1_800_000_000)
    assert links.expired(CLAIMS, now=1_800_000_001)


def test_link_expiry_reads_the_clock_when_not_given_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ecs_handoff.approvals.links.time.time", lambda: 1_800_000_000.0)
    assert links.expired(CLAIMS)
    monkeypatch.setattr("ecs_handoff.approvals.links.time.time", lambda: 1_799_999_000.0)
    assert not links.expired(CLAIMS)


def test_link_keeps_a_base_path_that_ends_in_x() -> None:
    assert links.link("https://approve.example.com/rootX/", KEY, CLAIMS).startswith(
        "https://approve.example.com/rootX/approvals/"
    )


def test_link_url_is_exactly_the_claims_and_the_signature() -> None:
    assert links.link("https://approve.example.com/", KEY, CLAIMS) == (
        "https://approve.example.com/approvals/0123456789abcdef0123456789abcdef"
        f"?approver=alice%40example.com&expires=1800000000&sig={SIGNATURE}"
    )


# --- what the messages name, cut where they are cut ------------------------------------------------------


def test_an_escaping_member_is_named_by_its_first_100_characters() -> None:
    name = "../" + "a" * 200
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(zip_members({name: b"[]"}))
    assert str(info.value) == (
        f"the zip holds a member whose path escapes the archive root: {name[:100]!r}; refusing the whole archive"
    )


def test_a_nested_member_is_named_where_it_is() -> None:
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(zip_members({"build/out/imagedefinitions.json": b"[]"}))
    assert str(info.value) == (
        "imagedefinitions.json must be at the root of the zip, but it is at 'build/out/imagedefinitions.json'; "
        "zip the file itself, not its folder"
    )


def test_a_zip_without_the_member_lists_the_first_five_names_cut_at_60() -> None:
    members: dict[str, bytes | str] = {f"{i}-" + "n" * 70: b"x" for i in range(6)}
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(zip_members(members))
    listed = ", ".join(repr(name[:60]) for name in list(members)[:5])
    assert str(info.value) == f"the zip has no imagedefinitions.json at its root; it holds {listed}"
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(empty.getvalue())
    assert str(info.value) == "the zip has no imagedefinitions.json at its root; it holds nothing"


def test_only_the_encryption_flag_marks_a_member_encrypted() -> None:
    body = json.dumps([{"name": "app", "imageUri": "nginx:1"}]).encode()
    data = bytearray(zip_members({"imagedefinitions.json": body}))
    # general purpose bit 1 (a deflate option, not encryption) in the local header and the central directory
    data[6] |= 0x2
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x2
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).infolist()[0].flag_bits & 0x2
    assert read_artifact(bytes(data))[0].name == "app"
    data[6] |= 0x1
    data[central + 8] |= 0x1
    with pytest.raises(
        ArtifactRejected, match=r"^imagedefinitions.json is encrypted in the zip; upload it unencrypted$"
    ):
        read_artifact(bytes(data))


def test_unsafe_path_rules() -> None:
    from ecs_handoff.artifact import _unsafe_path

    assert _unsafe_path("a\x00b") == "contains a NUL byte"  # (zipfile itself cuts names at a NUL)
    assert _unsafe_path("c:imagedefinitions.json") == "is absolute"
    assert _unsafe_path("Z:imagedefinitions.json") == "is absolute"
    assert _unsafe_path("sub/imagedefinitions.json") is None
    assert _unsafe_path("a..b/imagedefinitions.json") is None


def test_an_unsupported_compression_method_is_named() -> None:
    body = json.dumps([{"name": "app", "imageUri": "nginx:1"}]).encode()
    data = bytearray(zip_members({"imagedefinitions.json": body}, compression=zipfile.ZIP_STORED))
    # compression method 99 (AE-x) in the local header (offset 8) and the central directory entry (offset 10)
    data[8:10] = (99).to_bytes(2, "little")
    central = data.rfind(b"PK\x01\x02")
    data[central + 10 : central + 12] = (99).to_bytes(2, "little")
    with pytest.raises(ArtifactRejected) as info:
        read_artifact(bytes(data))
    assert str(info.value).startswith("imagedefinitions.json uses an unsupported compression method (")


def test_entry_messages_cut_what_ci_sent() -> None:
    key = "k" * 50
    with pytest.raises(ArtifactRejected) as info:
        parse_image_definitions(json.dumps([{"name": "a", "imageUri": "nginx", key: 1}]).encode())
    assert str(info.value) == f'entry 1 has unknown key {key[:40]!r}; only "name" and "imageUri" are allowed'
    name = "bad." + "n" * 100
    with pytest.raises(ArtifactRejected) as info:
        parse_image_definitions(json.dumps([{"name": name, "imageUri": "nginx"}]).encode())
    assert str(info.value) == (
        f"entry 1: container name {name[:80]!r} is not valid (letters, digits, '-' and '_', 1-255 characters)"
    )
    image = "nginx~" + "i" * 100
    with pytest.raises(ArtifactRejected) as info:
        parse_image_definitions(json.dumps([{"name": "a", "imageUri": image}]).encode())
    assert str(info.value) == (
        f"entry 1 (a): image {image[:80]!r} is not a valid image reference "
        "(expected registry/repository[:tag][@digest])"
    )


# --- taskdef: bases and revisions without the usual keys ------------------------------------------------


def test_short_name_of_a_plain_family_revision() -> None:
    from ecs_handoff.taskdef import short_name

    assert short_name("dev-api:1") == "dev-api:1"
    assert short_name("arn:aws:ecs:ap-northeast-1:123456789012:task-definition/dev-api:7") == "dev-api:7"


def test_a_base_without_containers_or_arn_is_named_as_such() -> None:
    from ecs_handoff.taskdef import check_containers

    with pytest.raises(ArtifactRejected) as info:
        check_containers({}, [ImageDefinition(name="app", image_uri="nginx")])
    assert str(info.value) == "container 'app' is not in task definition ?; it has: no containers"


def test_policy_messages_list_what_is_allowed() -> None:
    from ecs_handoff.taskdef import check_policy

    image = [ImageDefinition(name="app", image_uri="docker.io/library/nginx:1")]
    with pytest.raises(ArtifactRejected) as info:
        check_policy(["a.example", "b.example"], None, "api", image)
    assert str(info.value) == (
        "image 'docker.io/library/nginx:1' comes from registry 'docker.io', which api may not use "
        "(allowed: a.example, b.example)"
    )
    for containers, shown in (([], "none"), (["web", "worker"], "web, worker")):
        with pytest.raises(ArtifactRejected) as info:
            check_policy(["docker.io"], containers, "api", image)
        assert str(info.value) == (
            f"container 'app' is not one CI may set for api (containers: {shown}); Terraform sets its image"
        )


def test_revisions_without_container_definitions() -> None:
    from ecs_handoff.taskdef import image_changes, new_revision, revision_changes

    images = [ImageDefinition(name="app", image_uri="nginx:2")]
    assert image_changes(None, images)[0].image_before is None
    assert image_changes({}, images)[0].image_before is None
    assert new_revision({"family": "f"}, images) == {"family": "f"}
    assert revision_changes({}, {}) == ([], [])
    added, other = revision_changes({}, {"containerDefinitions": [{"name": "app"}]})
    assert [(c.container, c.image_before, c.image_after) for c in added] == [("app", None, "")]
    assert other == ["container app added"]


def test_revision_changes_name_each_difference_exactly() -> None:
    from ecs_handoff.taskdef import revision_changes

    running = {
        "cpu": "256",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "nginx:1",
                "memory": 512,
                "essential": True,
                "command": ["serve", "--port", "8080"] * 10,
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "D", "value": "4"}],
                "secrets": [{"name": "S", "valueFrom": "arn:1"}],
                "portMappings": [{"containerPort": 80}, {"containerPort": 53, "protocol": "udp"}],
            },
            {"name": "gone", "image": "x:1"},
        ],
    }
    new = {
        "cpu": "512",
        "containerDefinitions": [
            {
                "name": "app",
                "image": "nginx:1",
                "memory": 1024,
                "essential": True,
                "command": ["serve"],
                "environment": [{"name": "A", "value": "9"}, {"name": "C", "value": "3"}, {"name": "D", "value": "4"}],
                "secrets": [{"name": "S", "valueFrom": "arn:2"}],
                "portMappings": [],
            },
        ],
    }
    images, other = revision_changes(running, new)
    assert images == []
    long_command = json.dumps(["serve", "--port", "8080"] * 10, sort_keys=True)
    assert other == [
        "task CPU: 256 -> 512",
        "container gone removed",
        "app memory: 512 -> 1024",
        f'app command: {long_command[:77]}... -> ["serve"]',
        "app environment C added",
        "app environment B removed",
        "app environment A changed",
        "app secret S changed",
        "app ports: 53/udp, 80/tcp -> none",
    ]
    _, back = revision_changes(new, running)
    assert "app ports: none -> 53/udp, 80/tcp" in back
    assert "task CPU: 512 -> 256" in back


def test_shown_values() -> None:
    from ecs_handoff.taskdef import _shown

    assert _shown(None) == "(none)"
    assert _shown({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    exactly_80 = ["x" * 76]  # '["' + 76 + '"]' = 80 characters
    assert _shown(exactly_80) == json.dumps(exactly_80)
    assert _shown(["x" * 77]) == json.dumps(["x" * 77])[:77] + "..."


def test_parse_reference() -> None:
    from ecs_handoff.models import parse_reference, split_reference

    assert parse_reference("registry.example.com:5000/team/app:v1@sha256:" + "a" * 64) == (
        "registry.example.com:5000/team/app",
        "v1",
        "sha256:" + "a" * 64,
    )
    assert parse_reference("registry.example.com:5000/team/app") == ("registry.example.com:5000/team/app", None, None)
    assert parse_reference("app:v1") == ("app", "v1", None)
    assert split_reference(f"{ECR}/api:v1", ECR) == ("api", "v1", None)
