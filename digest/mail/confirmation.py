"""The double opt-in email: a signed confirm link, rendered in the reader's language, sent by the mail backend."""

from __future__ import annotations

from digest.errors import MailError
from digest.links import Links
from digest.mail.base import Batch, Content, MailBackend, Recipient, list_id
from digest.render import RTL_LANGUAGES, make_environment, templates_root
from digest.settings import Settings
from subscribers.models import MailingList, Subscriber, utcnow
from subscribers.store import LANGUAGES


def confirmation_content(
    *, settings: Settings, links: Links, subscriber: Subscriber, mailing_list: MailingList
) -> Content:
    """The confirmation email for ``subscriber`` on ``mailing_list``, in their language: subject, HTML, text."""
    assert subscriber.id is not None and mailing_list.id is not None
    language = subscriber.language if subscriber.language in LANGUAGES else settings.language
    # The reader-facing pages' templates (templates/web), as the rendering module loads them.
    env = make_environment(language, folder=templates_root() / "web")
    context = {
        "lang": language,
        "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        "list_name": mailing_list.name,
        "confirm_url": links.confirm_url(subscriber.id, mailing_list.id, subscriber.token_secret),
        "publication": settings.publication_name,
        "postal_address": settings.postal_address,
    }
    subject = env.get_template("subscribers/confirm-email.subject.txt.j2").render(context).strip()
    return Content(
        subject=subject,
        html=env.get_template("subscribers/confirm-email.html.j2").render(context, subject=subject),
        text=env.get_template("subscribers/confirm-email.txt.j2").render(context),
    )


def send_confirmation(
    *,
    settings: Settings,
    backend: MailBackend,
    subscriber: Subscriber,
    mailing_list: MailingList,
    message_key: str,
) -> None:
    """Mail ``subscriber`` the link that confirms their subscription to ``mailing_list``; ``message_key`` names
    the message (its Message-ID ``<confirm.<list>.<key>@domain>`` and the outbox's ``confirm/<list>/<key>.eml``).

    Raises MailError when the backend refuses it. Callers go through :mod:`digest.mail.transactional`.
    """
    assert subscriber.id is not None and mailing_list.id is not None
    links = Links.from_settings(settings)
    content = confirmation_content(settings=settings, links=links, subscriber=subscriber, mailing_list=mailing_list)
    batch = Batch(
        content=content,
        recipients=[
            Recipient(
                email=subscriber.email,
                # The name came with the sign-up and nobody has confirmed it yet: it stays out of the To: header.
                name=None,
                fields=links.reader_fields(subscriber.id, mailing_list.id, subscriber.token_secret),
                message_key=message_key,
            )
        ],
        sender=settings.from_address,
        list_id=list_id(mailing_list.name, mailing_list.slug, settings.from_address),
        now=utcnow(),
        edition_key=f"confirm.{mailing_list.slug}",
        categories=(mailing_list.slug, "confirm"),
    )
    for result in backend.send_batch(batch):
        if not result.ok:
            raise MailError(f"confirmation to {subscriber.email} was refused: {result.error}")
