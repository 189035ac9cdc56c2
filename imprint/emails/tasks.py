from django_tasks import task


@task()
def email_send_task(email_id: int) -> None:
    """A job queued by Imprint before emails became their own jobs: it sends the one email if it
    is still ready, through the same claim as the workers."""
    from imprint.emails.services import email_send

    email_send(email_id=email_id)
