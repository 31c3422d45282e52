"""Secrets: token prefixes, private key blocks, bare AWS secret keys next to their key id; and IDN e-mail."""

from __future__ import annotations

import pytest

from auralith.config.quality import PIIConfig
from auralith.steps.pii import PIIRedactor

KEY_ID = "AKIAZ7Q2M4N6P8R0T1V3"
SECRET = "Xq7b/Lm2Np9+Rt4vWz8yAc1dEf3gHj5kMn6pQr0s"


def test_bare_aws_secret_next_to_its_key_id():
    red = PIIRedactor(PIIConfig())
    text = f"Use the access key {KEY_ID} with the secret {SECRET} for the upload."
    assert red(text)[0] == "Use the access key <SECRET> with the secret <SECRET> for the upload."
    alone = f"The string {SECRET} is a key only beside an access key id."
    assert red(alone) == (alone, None)


def test_sha1_next_to_a_key_id_is_not_a_secret():
    text = f"key {KEY_ID} rotated in commit 3f786850e387550fdab836ed7e6dc881de23001b"
    assert (
        PIIRedactor(PIIConfig())(text)[0] == "key <SECRET> rotated in commit 3f786850e387550fdab836ed7e6dc881de23001b"
    )


@pytest.mark.parametrize(
    "token",
    [
        "glpat-Ab3dE5fG7hI9jK1lM3nO",
        "xapp-1-A0123456789-1234567890123-abcdefabcdef0123456789",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
        "npm_Ab3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5",
        "whsec_Ab3dE5fG7hI9jK1lM3nO5pQ7rS9t",
        "sk-ant-api03-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
    ],
)
def test_token_prefixes(token):
    assert PIIRedactor(PIIConfig())(f"token = {token}\n")[0] == "token = <SECRET>\n"


@pytest.mark.parametrize(
    "address", ["josé.garcía@ejemplo.es", "用户@例子.广告", "почта@пример.рф", "अजय@डाटा.भारत", "info@bücher.de"]
)
def test_internationalised_email(address):
    assert PIIRedactor(PIIConfig())(f"Mail {address} today.")[0] == "Mail <EMAIL> today."
