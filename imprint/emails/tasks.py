from django_tasks import task


@task()
def email_send_task(email_id: int) -> None:
    from imprint.emails.services import email_send

    email_send(email_id=email_id)
