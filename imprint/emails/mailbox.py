"""The local mailbox: a mail backend that keeps messages in the database, viewable at /dev/mailbox.

The default when IMPRINT_EMAIL_URL is unset, so a fresh install (and the demo) can watch its
emails arrive without a mail server.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from imprint.emails.models import MailboxMessage


def _parts(message: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a message Django is about to send."""
    text = html = ""
    body = str(message.body or "")
    if message.content_subtype == "html":
        html = body
    else:
        text = body
    if isinstance(message, EmailMultiAlternatives):
        for alternative in message.alternatives:
            content, mimetype = alternative[0], alternative[1]
            if mimetype == "text/html" and not html:
                html = str(content)
            elif mimetype == "text/plain" and not text:
                text = str(content)
    return text, html


class MailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            recipients = message.recipients()
            if not recipients:
                continue
            try:
                text, html = _parts(message)
                MailboxMessage.objects.create(
                    sender=str(message.from_email)[:500],
                    recipients=", ".join(recipients),
                    subject=str(message.subject)[:998],
                    text=text,
                    html=html,
                    raw=message.message().as_string(),
                )
            except Exception:
                if not self.fail_silently:
                    raise
                continue
            sent += 1
        return sent
