"""gitexp.store.redaction: URLs without their credentials, known secrets masked in any form they come back in."""

from __future__ import annotations

import pytest

from gitexp.store.redaction import Redactor, redacted, without_credentials
from tests.fake_github import TOKEN, shows_token, token_echoes


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:TOKEN@host/team/repo.git", "https://***@host/team/repo.git"),
        ("https://x-access-token:ghs_abc@github.com/o/r", "https://***@github.com/o/r"),
        ("https://TOKEN@github.com/o/r", "https://***@github.com/o/r"),
        ("http://user:p@ss@127.0.0.1:8080/r.git", "http://***@127.0.0.1:8080/r.git"),  # a raw '@' in the password
        ("ssh://git@host:2222/r.git", "ssh://***@host:2222/r.git"),
        ("user:password@host:team/repo.git", "user:***@host:team/repo.git"),
        ("git@github.com:octo/lab.git", "git@github.com:octo/lab.git"),  # a user name, no password
        ("https://github.com/octo/lab.git", "https://github.com/octo/lab.git"),
        ("/srv/git/lab.git", "/srv/git/lab.git"),
        ("origin", "origin"),
    ],
)
def test_without_credentials(url: str, shown: str):
    assert without_credentials(url) == shown


def test_credentials_in_any_url_of_a_text_are_masked():
    said = "fatal: unable to access 'https://u:s3cret@host/r.git/': 403; see http://h/x and https://a:b@c/d"

    assert redacted(said) == "fatal: unable to access 'https://***@host/r.git/': 403; see http://h/x and https://***@c/d"


@pytest.mark.parametrize("text", [
    "git push to origin failed: ! [rejected] main -> main (fetch first)",
    "mail maintainers@example.com about refs/heads/exp/s/t001@{1}",
    "lr=0.01, layers=[1, 2], url http://127.0.0.1:9/x.git, ~/.ssh/id_ed25519",
])  # fmt: skip
def test_ordinary_text_is_left_alone(text: str):
    assert redacted(text) == text
    assert Redactor([TOKEN])(text) == text


def test_github_shaped_tokens_are_masked_without_being_known():
    text = "token ghp_" + "A1b2" * 9 + " and github_pat_" + "x_Y" * 20 + " and ghp_short"

    assert redacted(text) == "token *** and *** and ghp_short"


@pytest.mark.parametrize("form", sorted(token_echoes()))
def test_a_known_secret_is_masked_in_any_form(form: str):
    text = f"error: {token_echoes()[form]} (see docs)"

    masked = Redactor([TOKEN])(text)

    assert not shows_token(masked) and masked.startswith("error: ") and masked.endswith(" (see docs)")


def test_several_secrets_and_blank_ones():
    redactor = Redactor(["  s3cr3t-One  ", "", "An0ther-Secret"])

    assert redactor("S3CR3T-ONE and an0ther-\\nsecret stay out") == "*** and *** stay out"
    assert "s3cr3t" not in repr(redactor).lower()
