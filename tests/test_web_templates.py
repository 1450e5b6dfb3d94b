"""The readers' pages' templates translate ``_("literal")`` when they are compiled (digest.web.pages
ConstantTranslations): the page must come out exactly as newstyle gettext renders it at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from markupsafe import Markup

from digest.render import make_environment, templates_root
from digest.web.pages import LANGUAGE_NAMES, pages_environment

CONTEXT = {
    "dir": "ltr",
    "publication": "L'Écho & Co",
    "postal_address": "1 rue <Ibn Battouta>",
    "saved": True,
    "error": "x<y",
    "email": "amina+news@example.com",
    "language_names": LANGUAGE_NAMES,
    "lists": [
        {"id": 1, "name": "Quotidien", "active": True, "status": "active"},
        {"id": 2, "name": "Hebdo & co", "active": False, "status": "pending"},
    ],
    "list_name": "Quotidien",
    "list_slug": "quotidien",
    "sections": ["Économie", "Sport"],
    "chosen": ["Sport"],
    "csrf": "token",
    "action": "/p/token",
    "unsubscribe_url": "/u/token",
    "preferences_url": "/p/token",
    "name": "Amina",
    "reader_language": "ar",
    "frequency": "weekly",
    "format": "text",
    "paused_until": "",
    "timezone": "America/Montreal",
    "publication_timezone": "Africa/Casablanca",
    "delivery_hour": "06:30",
    "zone_options": Markup('<option value="America/Montreal" selected>Montreal (UTC-05:00)</option>'),
    "already": False,
    "link": ("/p/token", "preferences"),
    "subject": "Confirmez & lisez",
    "confirm_url": "https://news.example.com/c/token",
}
KINDS = ("unsubscribed", "not_found", "check_inbox", "too_many", "csrf", "confirmed", "too_large", "bad_request")


def _templates() -> list[str]:
    folder = templates_root() / "web" / "subscribers"
    return sorted(f"subscribers/{path.name}" for path in Path(folder).glob("*.html.j2"))


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_translated_at_compile_time_renders_the_same_page(language: str) -> None:
    folded, plain = pages_environment(language), make_environment(language, folder=templates_root() / "web")
    compared = 0
    for name in _templates():
        for kind in KINDS:
            context = {**CONTEXT, "lang": language, "kind": kind}
            assert folded.get_template(name).render(**context) == plain.get_template(name).render(**context), name
            compared += 1
    assert compared >= 5 * len(KINDS)


def test_literals_are_translated_once_and_calls_with_arguments_stay_calls() -> None:
    environment = pages_environment("fr")
    source = '{{ _("Your preferences") }}|{{ _("What you get from %(list)s", list=name) }}|{{ x._("a") }}'
    code = environment.compile(source, raw=True)
    # The literal is folded into the compiled template; the call with an argument is still made at render time.
    assert "Vos préférences" in code and "Your preferences" not in code and "What you get from" in code
    rendered = environment.from_string(source).render(name="<b>", x={"_": lambda text: Markup("attr")})
    assert rendered == "Vos préférences|Ce que vous recevez de <b>|attr"  # a string template: not autoescaped
