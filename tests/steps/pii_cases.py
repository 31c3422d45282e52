"""Labelled PII cases: real-looking positives (the span that must be found) and tricky negatives.

Card numbers are issuers' published test numbers; IBANs are the registry's examples; keys are the shapes
providers document, filled with made-up characters; IPs are public-looking addresses from large networks.
"""

_PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq98F0l2kX\nq9Zx1Yw==\n-----END RSA PRIVATE KEY-----"
_JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

# (text, type, the exact span that must be redacted)
POSITIVES = [
    ("Contact me at jane.doe@example.org for details.", "email", "jane.doe@example.org"),
    (
        "Send the form to HR-Team+forms@mail.acme-corp.co.uk before Friday.",
        "email",
        "HR-Team+forms@mail.acme-corp.co.uk",
    ),
    ("Maintainer: Gerhard Häring <gh@ghaering.de>", "email", "gh@ghaering.de"),
    ("mailto:support@github.com", "email", "support@github.com"),
    ("Call +44 20 7946 0958 during office hours.", "phone", "+44 20 7946 0958"),
    ("Our Paris office: +33 1 42 68 53 00.", "phone", "+33 1 42 68 53 00"),
    ("US support line (415) 555-0132, weekdays.", "phone", "(415) 555-0132"),
    ("Text 212-555-0187 to confirm.", "phone", "212-555-0187"),
    ("Berlin: +49 (0)30 1234567", "phone", "+49 (0)30 1234567"),
    ("WhatsApp me on +91 98765 43210 anytime", "phone", "+91 98765 43210"),
    ("Dial +1-202-555-0143 for the hotline.", "phone", "+1-202-555-0143"),
    ("phoneNumber: '+1.8005550123'", "phone", "+1.8005550123"),
    ("Tokyo desk +81 3-1234-5678.", "phone", "+81 3-1234-5678"),
    ("The attacker connected from 203.0.113.195? No: from 185.199.108.153 twice.", "ip", "185.199.108.153"),
    ("Server log: GET / client 8.8.4.4 200 OK", "ip", "8.8.4.4"),
    ("Reserve the address 162.222.181.198 for the load balancer.", "ip", "162.222.181.198"),
    ("ssh root@52.14.201.7 -p 22", "ip", "52.14.201.7"),
    ("IPv6 peer 2a00:1450:4001:81b::200e connected.", "ip", "2a00:1450:4001:81b::200e"),
    ("Resolved to 2606:4700:4700::1111 (Cloudflare).", "ip", "2606:4700:4700::1111"),
    ("Visa 4111 1111 1111 1111 exp 12/27", "credit_card", "4111 1111 1111 1111"),
    ("Card: 5555-5555-5555-4444", "credit_card", "5555-5555-5555-4444"),
    ("amex 378282246310005 on file", "credit_card", "378282246310005"),
    ("Discover 6011111111111117.", "credit_card", "6011111111111117"),
    ("Pay to DE89 3704 0044 0532 0130 00 by Monday.", "iban", "DE89 3704 0044 0532 0130 00"),
    ("IBAN: GB82WEST12345698765432", "iban", "GB82WEST12345698765432"),
    ("Compte FR14 2004 1010 0505 0001 3M02 606", "iban", "FR14 2004 1010 0505 0001 3M02 606"),
    ("NL91ABNA0417164300 (ABN AMRO)", "iban", "NL91ABNA0417164300"),
    ("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "secret", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "secret",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (f"Key:\n{_PEM}\nkeep it safe", "secret", _PEM),
    ("token: ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5", "secret", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"),
    (
        "SLACK_TOKEN=xoxb-2345678901-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "secret",
        "xoxb-2345678901-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    ("key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "secret", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "secret", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    (f"Authorization: Bearer {_JWT}", "secret", _JWT),
    (
        "OPENAI_API_KEY=sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
        "secret",
        "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78",
    ),
]

# Text that looks like PII to a careless regex and must come out unchanged.
NEGATIVES = [
    "The meeting is on 2024-01-15 at 10:30:45 in room 12.",
    "Released on 15/01/2024; see the 01.02.2024 changelog.",
    "Upgrade to version 1.2.3.4 or later (v2.0.1.7 is broken).",
    "Python 3.11.4 and numpy 1.26.0 are required.",
    "Firmware release 10.4.2.1 fixes the bug.",
    "The OID 1.3.6.1.4.1.311.21.7 identifies the template.",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixes it",
    "md5 5d41402abc4b2a76b9719d911017c592",
    "Prices: $1,234.56, €999.99 and ¥120,000 in total.",
    "The population grew from 1,234,567 to 2,345,678 by 2020.",
    "Order number 1234567890123456 has shipped.",  # no card issuer starts with 1
    "Reference 4111 1111 1111 1112 is not a card.",  # Visa-shaped but fails Luhn
    "Tracking 9400 1000 0000 0000 0000 00 via USPS.",
    "ISBN 978-3-16-148410-0 and ISSN 2049-3630.",
    "Local dev server at 127.0.0.1:8000 and 192.168.1.10 on the LAN.",
    "Use 10.0.0.1 as gateway, netmask 255.255.255.0.",
    "Docs use 2001:db8::1 and fe80::1ff:fe23:4567:890a as examples.",
    "The MAC address is 00:1a:2b:3c:4d:5e.",
    "In C++ write std::vector<int> and a::b::c.",
    "Python decorators look like @property and @functools.lru_cache.",
    "Matrix product a@b.T in numpy.",
    "Call the user@localhost account.",
    "Score was 3-2, then 10-4; coordinates 40.7128, -74.0060.",
    "Page 12 of 345, lines 100-200.",
    "Phone codes like +1 and +44 are country prefixes.",
    "Result: +3.14159 and -2.71828.",
    "A hash like AKIA is not a key without 16 more characters.",
    "The serial is DE12345 and the part code GB-2024-X.",
    "Build 20240115.3 finished in 00:12:34.",
    "She wrote 'see section 4.2.1.3' in the margin.",
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
    "The eyJ prefix marks base64 JSON, e.g. eyJhbGci alone is not a token.",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "Call me maybe: 555-0100 is a fictional exchange.",
    # from this machine's /usr/share/doc, where a first version of the patterns went wrong
    "Changes in 1.2.0.3 (19 July 2003) - Fix the build on AIX.",
    "It is unclonable by Git versions prior to 1.5.1.2 over dumb transport.",
    "Supported curves: 'x448' (OID 1.3.101.111) and 'ed25519' (OID 1.3.101.112).",
    'Restricted Rights" as defined in Clause 252.227-7013 (c) (1) of DFARs.',
    "See https://oss-fuzz.com/testcase-detail/5390364397928448 for the crash.",
    "Revert to Makefile.in from 1.2.3.6 (live with the clutter).",
]
