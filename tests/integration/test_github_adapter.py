"""The GitHub adapter against the fake GitHub over real HTTP, with real Redis for shared state."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from reviewer.adapters.github import (
    GitHubHostFactory,
    PermanentGitHubError,
    ReviewPostUncertain,
    ReviewRejected,
    TransientGitHubError,
)
from reviewer.adapters.github.ratelimit import KEY_PREFIX as RATELIMIT_PREFIX
from reviewer.ports import InlineComment
from tests.fakes.github import FakeFile, FakeGitHub, FakePullRequest
from tests.support.keys import rsa_key_pair

pytestmark = pytest.mark.integration

API_VERSION = "2022-11-28"
REPO = "octo/app"
TOKEN = "test-token-" + secrets.token_hex(4)
MARKER = "<!-- reviewer:run-1 -->"

BASE = "".join(f"line {i}\n" for i in range(1, 41))
HEAD = BASE.replace("line 10\n", "line 10 changed\nline 10b added\n").replace("line 30\n", "")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens={TOKEN}) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeGitHub) -> Iterator[FakeGitHub]:
    server.reset()
    server.static_tokens = {TOKEN}
    server.app_id = None
    server.app_public_key = None
    server.token_ttl_s = 3600.0
    yield server
    server.reset()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(host="127.0.0.1", port=6379, db=15)
    client.ping()
    yield client
    for key in client.scan_iter("reviewer:github:*"):
        client.delete(key)
    client.close()


class Sleeps:
    """Records the waits the adapter asks for, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def token_factory(fake: FakeGitHub, redis_client: Any = None, **options: Any) -> GitHubHostFactory:
    options.setdefault("sleep", Sleeps())
    options.setdefault("backoff_s", 0.01)
    return GitHubHostFactory(
        fake.url, API_VERSION, token=TOKEN, redis_client=redis_client, **options
    )


def sample_pr(fake: FakeGitHub, number: int = 7) -> FakePullRequest:
    return fake.add_pull_request_from_texts(
        REPO,
        number,
        {
            "app/main.py": (BASE, HEAD),
            "app/new.py": (None, "print('hi')\n"),
            "logo.png": (b"\x89PNG\r\n\x1a\n\xff\x00", b"\x89PNG\r\n\x1a\n\xfe\x00"),
        },
        title="Change things",
    )


# -- reads ---------------------------------------------------------------------------------


def test_get_pull_request_reads_fields_and_sends_our_api_version(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    info = token_factory(fake).for_installation(None).get_pull_request(REPO, 7)
    assert (info.number, info.title, info.head_sha, info.base_sha) == (
        7,
        "Change things",
        pr.head_sha,
        pr.base_sha,
    )
    assert (info.base_ref, info.head_ref, info.author, info.draft) == (
        "main",
        "feature",
        "octocat",
        False,
    )
    [request] = fake.requests
    assert request.headers["x-github-api-version"] == API_VERSION
    assert request.headers["authorization"] == f"token {TOKEN}"


def test_list_files_follows_all_pages(fake: FakeGitHub) -> None:
    files = [
        FakeFile(f"src/f{i:03}.py", "added", f"@@ -0,0 +1 @@\n+x = {i}", 1, 0) for i in range(250)
    ]
    fake.add_pull_request(
        REPO, FakePullRequest(number=3, head_sha="a" * 40, base_sha="b" * 40, files=files)
    )
    listed = token_factory(fake).for_installation(None).list_pull_request_files(REPO, 3)
    assert [f.filename for f in listed] == [f.filename for f in files]
    pages = fake.requests_to(r"/pulls/3/files$")
    assert [(r.query["page"], r.query["per_page"]) for r in pages] == [
        (["1"], ["100"]),
        (["2"], ["100"]),
        (["3"], ["100"]),
    ]


def test_missing_patch_becomes_none(fake: FakeGitHub) -> None:
    sample_pr(fake)
    files = {
        f.filename: f
        for f in token_factory(fake).for_installation(None).list_pull_request_files(REPO, 7)
    }
    assert files["logo.png"].patch is None
    assert (
        files["app/main.py"].patch is not None and "+line 10b added" in files["app/main.py"].patch
    )
    assert files["app/new.py"].status == "added" and files["app/main.py"].additions == 2


def test_file_content_at_a_ref_and_missing_file(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    host = token_factory(fake).for_installation(None)
    assert host.get_file_content(REPO, "app/main.py", pr.head_sha) == HEAD.encode()
    assert host.get_file_content(REPO, "app/main.py", pr.base_sha) == BASE.encode()
    assert host.get_file_content(REPO, "app/new.py", pr.base_sha) is None
    assert host.get_file_content(REPO, "logo.png", pr.head_sha) == b"\x89PNG\r\n\x1a\n\xfe\x00"


def test_large_file_falls_back_to_the_blob_api(fake: FakeGitHub) -> None:
    fake.large_file_bytes = 1000
    big = ("x" * 99 + "\n") * 50
    fake.set_content(REPO, "main", "data/big file#1.txt", big)
    try:
        content = (
            token_factory(fake)
            .for_installation(None)
            .get_file_content(REPO, "data/big file#1.txt", "main")
        )
    finally:
        fake.large_file_bytes = 1_000_000
    assert content == big.encode()
    assert len(fake.requests_to(r"/git/blobs/")) == 1


def test_not_found_pull_request_is_permanent(fake: FakeGitHub) -> None:
    fake.add_repo(REPO)
    with pytest.raises(PermanentGitHubError) as info:
        token_factory(fake).for_installation(None).get_pull_request(REPO, 404)
    assert info.value.status == 404
    assert len(fake.requests) == 1  # a 404 is not retried


def test_fake_shapes_parse_into_githubkit_models(fake: FakeGitHub) -> None:
    """The fake's JSON is complete enough for githubkit's own typed models."""
    from githubkit import GitHub

    pr = sample_pr(fake)
    gh = GitHub(TOKEN, base_url=fake.url, http_cache=False, auto_retry=False)
    owner, name = REPO.split("/")
    assert gh.rest.pulls.get(owner, name, 7).parsed_data.head.sha == pr.head_sha
    assert len(gh.rest.pulls.list_files(owner, name, 7).parsed_data) == 3
    assert gh.rest.repos.get_content(
        owner, name, "app/main.py", ref=pr.head_sha
    ).parsed_data.size == len(HEAD)
    created = gh.rest.pulls.create_review(
        owner, name, 7, commit_id=pr.head_sha, body="b", event="COMMENT"
    )
    assert created.parsed_data.state == "COMMENTED"
    assert gh.rest.pulls.list_reviews(owner, name, 7).parsed_data[0].id == created.parsed_data.id


# -- creating a review ---------------------------------------------------------------------


def test_create_review_with_valid_anchors_then_find_it_by_marker(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    host = token_factory(fake).for_installation(None)
    comments = [
        InlineComment(path="app/main.py", line=11, body="added line"),
        InlineComment(path="app/main.py", line=11, start_line=10, start_side="RIGHT", body="range"),
        InlineComment(path="app/main.py", line=30, side="LEFT", body="removed line"),
        InlineComment(path="app/new.py", line=1, body="new file"),
    ]
    review_id = host.create_review(
        REPO, 7, commit_id=pr.head_sha, body=f"Summary\n{MARKER}", comments=comments
    )
    [stored] = fake.reviews(REPO, 7)
    assert (
        stored["id"] == review_id
        and stored["commit_id"] == pr.head_sha
        and stored["state"] == "COMMENTED"
    )
    assert [c["line"] for c in stored["comments"]] == [11, 11, 30, 1]
    assert "position" not in stored["comments"][0] and "start_line" not in stored["comments"][0]
    assert host.find_review_with_marker(REPO, 7, MARKER) == review_id
    assert host.find_review_with_marker(REPO, 7, "<!-- reviewer:other -->") is None


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (
            InlineComment(path="app/main.py", line=20, body="outside the hunks"),
            "Line could not be resolved",
        ),
        (
            InlineComment(path="app/other.py", line=1, body="not in the PR"),
            "Path could not be resolved",
        ),
        (
            InlineComment(path="app/main.py", line=20, side="LEFT", body="base, unchanged"),
            "Line could not be resolved",
        ),
        (
            InlineComment(path="app/main.py", line=11, start_line=29, body="across hunks"),
            "start_line must precede line",
        ),
        (
            InlineComment(path="app/main.py", line=31, start_line=11, body="across hunks"),
            "same hunk",
        ),
    ],
)
def test_a_bad_anchor_is_rejected_and_nothing_is_recorded(
    fake: FakeGitHub, comment: InlineComment, expected: str
) -> None:
    pr = sample_pr(fake)
    good = InlineComment(path="app/main.py", line=11, body="fine")
    with pytest.raises(ReviewRejected) as info:
        token_factory(fake).for_installation(None).create_review(
            REPO, 7, commit_id=pr.head_sha, body=MARKER, comments=[good, comment]
        )
    assert any(expected in error for error in info.value.errors), info.value.errors
    assert fake.reviews(REPO, 7) == []
    assert len(fake.requests_to(r"/reviews$", "POST")) == 1


def test_a_stale_commit_id_is_rejected(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    with pytest.raises(ReviewRejected):
        token_factory(fake).for_installation(None).create_review(
            REPO, 7, commit_id=pr.base_sha, body="x", comments=[]
        )
    assert fake.reviews(REPO, 7) == []


def test_server_error_on_review_post_is_uncertain_and_not_retried(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    fake.fail_next(r"/pulls/7/reviews$", 502, method="POST", times=3)
    with pytest.raises(ReviewPostUncertain) as info:
        token_factory(fake).for_installation(None).create_review(
            REPO, 7, commit_id=pr.head_sha, body=MARKER, comments=[]
        )
    assert info.value.status == 502
    assert len(fake.requests_to(r"/reviews$", "POST")) == 1


def test_lost_response_after_the_review_was_created(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    host = token_factory(fake).for_installation(None)
    fake.drop_next_review_response()
    with pytest.raises(ReviewPostUncertain):
        host.create_review(REPO, 7, commit_id=pr.head_sha, body=f"x\n{MARKER}", comments=[])
    assert len(fake.requests_to(r"/reviews$", "POST")) == 1
    [stored] = fake.reviews(REPO, 7)
    assert host.find_review_with_marker(REPO, 7, MARKER) == stored["id"]


def test_timeout_on_review_post_is_uncertain(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    fake.add_latency(r"/pulls/7/reviews$", 1.0, method="POST")
    with pytest.raises(ReviewPostUncertain):
        token_factory(fake, timeout=0.3).for_installation(None).create_review(
            REPO, 7, commit_id=pr.head_sha, body=MARKER, comments=[]
        )
    assert len(fake.requests_to(r"/reviews$", "POST")) == 1
    deadline = time.time() + 3
    while not fake.reviews(REPO, 7) and time.time() < deadline:
        time.sleep(0.05)
    assert len(fake.reviews(REPO, 7)) == 1  # GitHub finished it after we gave up waiting


def test_secondary_rate_limit_on_review_post_is_transient_not_uncertain(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    fake.fail_with_secondary_rate_limit(r"/reviews$", method="POST")
    with pytest.raises(TransientGitHubError) as info:
        token_factory(fake).for_installation(None).create_review(
            REPO, 7, commit_id=pr.head_sha, body=MARKER, comments=[]
        )
    assert not isinstance(info.value, ReviewPostUncertain)
    assert info.value.status == 403 and info.value.retry_after == 60
    assert fake.reviews(REPO, 7) == []


# -- retries and rate limits ---------------------------------------------------------------


def test_429_on_a_read_is_retried_after_retry_after(fake: FakeGitHub) -> None:
    sample_pr(fake)
    sleeps = Sleeps()
    fake.fail_with_429(r"/pulls/7$", retry_after=2)
    info = token_factory(fake, sleep=sleeps).for_installation(None).get_pull_request(REPO, 7)
    assert info.number == 7
    assert sleeps.calls == [2.0]
    assert len(fake.requests_to(r"/pulls/7$")) == 2


def test_server_errors_on_a_read_are_retried_with_backoff(fake: FakeGitHub) -> None:
    sample_pr(fake)
    sleeps = Sleeps()
    fake.fail_next(r"/pulls/7/files$", 500, times=2)
    files = (
        token_factory(fake, sleep=sleeps, backoff_s=0.5)
        .for_installation(None)
        .list_pull_request_files(REPO, 7)
    )
    assert len(files) == 3
    assert sleeps.calls == [0.5, 1.0]


def test_exhausted_retries_raise_transient_with_retry_after(fake: FakeGitHub) -> None:
    sample_pr(fake)
    sleeps = Sleeps()
    fake.fail_with_429(r"/pulls/7$", retry_after=3, times=10)
    with pytest.raises(TransientGitHubError) as info:
        token_factory(fake, sleep=sleeps, max_get_retries=2).for_installation(
            None
        ).get_pull_request(REPO, 7)
    assert info.value.retry_after == 3 and info.value.status == 429
    assert len(fake.requests_to(r"/pulls/7$")) == 3
    assert sleeps.calls == [3.0, 3.0]


def test_a_long_wait_is_left_to_the_caller(fake: FakeGitHub) -> None:
    sample_pr(fake)
    fake.fail_with_secondary_rate_limit(r"/pulls/7$", retry_after=120)
    with pytest.raises(TransientGitHubError) as info:
        token_factory(fake, max_retry_wait_s=30).for_installation(None).get_pull_request(REPO, 7)
    assert info.value.retry_after == 120
    assert len(fake.requests_to(r"/pulls/7$")) == 1


def test_exhausted_budget_is_shared_through_redis(
    fake: FakeGitHub, redis_client: redis.Redis
) -> None:
    sample_pr(fake)
    installation = secrets.randbelow(10**9)
    fake.set_rate_limit(remaining=1, reset_at=time.time() + 100)
    first_worker = token_factory(fake, redis_client).for_installation(installation)
    assert first_worker.get_pull_request(REPO, 7).number == 7
    stored = redis_client.hgetall(f"{RATELIMIT_PREFIX}{installation}")
    assert stored[b"remaining"] == b"0"
    # Another process (its own factory, same Redis) does not even ask GitHub.
    second_worker = token_factory(fake, redis_client, max_get_retries=0).for_installation(
        installation
    )
    before = len(fake.requests)
    with pytest.raises(TransientGitHubError) as info:
        second_worker.list_pull_request_files(REPO, 7)
    assert 90 < info.value.retry_after <= 100
    with pytest.raises(TransientGitHubError):
        second_worker.create_review(REPO, 7, commit_id="x", body=MARKER, comments=[])
    assert len(fake.requests) == before


def test_primary_rate_limit_response_is_transient_until_reset(fake: FakeGitHub) -> None:
    sample_pr(fake)
    fake.set_rate_limit(remaining=0, reset_at=time.time() + 50)
    with pytest.raises(TransientGitHubError) as info:
        token_factory(fake, max_get_retries=0).for_installation(None).get_pull_request(REPO, 7)
    assert info.value.status == 403 and 40 < info.value.retry_after <= 50


# -- GitHub App auth -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    return rsa_key_pair()


def app_factory(fake: FakeGitHub, private_key: str, redis_client: Any) -> GitHubHostFactory:
    return GitHubHostFactory(
        fake.url,
        API_VERSION,
        app_id=4242,
        private_key=private_key,
        redis_client=redis_client,
        sleep=Sleeps(),
    )


def use_app(fake: FakeGitHub, public_key: str, ttl: float = 3600.0) -> None:
    fake.static_tokens = set()
    fake.app_id = 4242
    fake.app_public_key = public_key
    fake.token_ttl_s = ttl


def test_app_token_is_minted_with_a_verified_jwt_and_shared_through_redis(
    fake: FakeGitHub, app_keys: tuple[str, str], redis_client: redis.Redis
) -> None:
    private, public = app_keys
    use_app(fake, public)
    sample_pr(fake)
    installation = secrets.randbelow(10**9)
    assert (
        app_factory(fake, private, redis_client)
        .for_installation(installation)
        .get_pull_request(REPO, 7)
        .number
        == 7
    )
    # A second worker process: new factory, same Redis -> no new token.
    other = app_factory(fake, private, redis_client).for_installation(installation)
    assert len(other.list_pull_request_files(REPO, 7)) == 3
    [mint] = fake.requests_to(r"/access_tokens$", "POST")
    assert mint.path == f"/app/installations/{installation}/access_tokens"
    assert mint.headers["authorization"].startswith("Bearer ")
    [issued] = fake.issued_tokens
    ttl = redis_client.ttl(f"reviewer:github:token:4242:{installation}")
    assert 3600 - 300 - 5 <= ttl <= 3600 - 300  # refreshed five minutes before expiry
    repo_requests = fake.requests_to(r"^/repos/")
    assert {r.headers["authorization"] for r in repo_requests} == {f"token {issued.token}"}
    assert {r.headers["x-github-api-version"] for r in fake.requests} == {API_VERSION}


def test_app_token_is_refreshed_before_it_expires(
    fake: FakeGitHub, app_keys: tuple[str, str], redis_client: redis.Redis
) -> None:
    private, public = app_keys
    use_app(fake, public, ttl=302)  # cached 1-2 s: expiry (whole seconds) minus five minutes
    sample_pr(fake)
    host = app_factory(fake, private, redis_client).for_installation(secrets.randbelow(10**9))
    host.get_pull_request(REPO, 7)
    host.get_pull_request(REPO, 7)
    assert len(fake.issued_tokens) == 1
    time.sleep(2.1)
    host.get_pull_request(REPO, 7)
    assert len(fake.issued_tokens) == 2


def test_a_revoked_token_is_replaced_once(
    fake: FakeGitHub, app_keys: tuple[str, str], redis_client: redis.Redis
) -> None:
    private, public = app_keys
    use_app(fake, public)
    pr = sample_pr(fake)
    host = app_factory(fake, private, redis_client).for_installation(secrets.randbelow(10**9))
    host.get_pull_request(REPO, 7)
    fake.issued_tokens.clear()  # GitHub forgot the token
    host.create_review(REPO, 7, commit_id=pr.head_sha, body=MARKER, comments=[])
    assert len(fake.issued_tokens) == 1
    assert len(fake.reviews(REPO, 7)) == 1


def test_a_jwt_signed_with_the_wrong_key_is_refused(
    fake: FakeGitHub, app_keys: tuple[str, str], redis_client: redis.Redis
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    _, public = app_keys
    use_app(fake, public)
    sample_pr(fake)
    wrong = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(PermanentGitHubError) as info:
        app_factory(fake, wrong, redis_client).for_installation(1).get_pull_request(REPO, 7)
    assert info.value.status == 401
    assert fake.issued_tokens == []


def test_secrets_stay_out_of_reprs(app_keys: tuple[str, str]) -> None:
    private, _ = app_keys
    factory = GitHubHostFactory("http://127.0.0.1:9", API_VERSION, app_id=1, private_key=private)
    token = GitHubHostFactory("http://127.0.0.1:9", API_VERSION, token=TOKEN)
    texts = [
        repr(factory),
        repr(factory.tokens),
        repr(factory.for_installation(5)),
        repr(token),
        repr(token.for_installation(None)),
    ]
    assert not any("PRIVATE KEY" in t or TOKEN in t for t in texts)


# -- a PR built from a real git repository -------------------------------------------------


def test_pull_request_from_a_real_git_repository(fake: FakeGitHub, tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "T")
    (tmp_path / "db.py").write_text(BASE)
    (tmp_path / "old.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-q", "-m", "base")
    (tmp_path / "db.py").write_text(HEAD)
    git("mv", "old.py", "renamed.py")
    git("add", ".")
    git("commit", "-q", "-m", "head")
    pr = fake.add_pull_request_from_git(REPO, 9, tmp_path, "HEAD~1", "HEAD")
    host = token_factory(fake).for_installation(None)
    files = {f.filename: f for f in host.list_pull_request_files(REPO, 9)}
    assert (
        files["renamed.py"].status == "renamed"
        and files["renamed.py"].previous_filename == "old.py"
    )
    assert files["db.py"].patch is not None and files["db.py"].patch.startswith("@@ -7,")
    assert host.get_file_content(REPO, "db.py", pr.head_sha) == HEAD.encode()
    host.create_review(
        REPO,
        9,
        commit_id=pr.head_sha,
        body="ok",
        comments=[InlineComment(path="db.py", line=12, body="x")],
    )
    with pytest.raises(ReviewRejected):
        host.create_review(
            REPO,
            9,
            commit_id=pr.head_sha,
            body="no",
            comments=[InlineComment(path="db.py", line=1, body="x")],
        )
    assert len(fake.reviews(REPO, 9)) == 1


def test_review_post_that_never_left_is_transient(fake: FakeGitHub) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    factory = GitHubHostFactory(
        f"http://127.0.0.1:{port}", API_VERSION, token=TOKEN, sleep=Sleeps()
    )
    with pytest.raises(TransientGitHubError) as info:
        factory.for_installation(None).create_review(
            REPO, 7, commit_id="a" * 40, body=MARKER, comments=[]
        )
    assert not isinstance(info.value, ReviewPostUncertain)


def test_host_as_context_manager_reuses_one_client(fake: FakeGitHub) -> None:
    pr = sample_pr(fake)
    with token_factory(fake).for_installation(None) as host:
        assert host.get_pull_request(REPO, 7).head_sha == pr.head_sha
        assert len(host.list_pull_request_files(REPO, 7)) == 3
        assert host.get_file_content(REPO, "app/new.py", pr.head_sha) == b"print('hi')\n"


def test_write_access_comes_from_the_collaborator_permission_level(fake: FakeGitHub) -> None:
    sample_pr(fake)
    fake.repos[REPO].permissions.update({"reader": "read", "nobody": "none", "lead": "admin"})
    host = token_factory(fake).for_installation(None)
    assert [host.can_write(REPO, login) for login in ("lead", "writer", "reader", "nobody")] == [
        True, True, False, False,
    ]
    assert fake.requests_to(r"/repos/.+/collaborators/reader/permission$", "GET")
