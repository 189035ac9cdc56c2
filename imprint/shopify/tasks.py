from django_tasks import task


@task()
def webhook_process_task(delivery_id: int, attempt: int = 1) -> str:
    """A job queued by Imprint before deliveries became their own jobs: it processes the one
    delivery if it is still ready, through the same claim as the workers."""
    from imprint.shopify.webhooks import webhooks_process_ready

    return "processed" if webhooks_process_ready(ids=[delivery_id]) else "nothing to do"
