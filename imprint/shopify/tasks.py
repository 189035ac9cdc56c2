from django_tasks import task


@task()
def webhook_process_task(delivery_id: int, attempt: int = 1) -> str:
    from imprint.shopify.webhooks import webhook_process

    return webhook_process(delivery_id=delivery_id, attempt=attempt)
