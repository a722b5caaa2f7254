"""The shop's tasks: found by `qtasks.contrib.django` (every installed app's `tasks`
module is imported once Django is ready), run by `python manage.py qtasks worker`."""

from django.db import connection

from orders.models import Order
from qtasks.contrib.django import app


@app.task(name="orders.send_receipt")
def send_receipt(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)  # the ORM, as in a view
    order.receipt = f"receipt for {order.item}"
    order.save(update_fields=["receipt"])
    return order.receipt


@app.task(name="orders.count")
def count_orders() -> dict[str, object]:
    """How many orders exist, and whether this task started on a fresh connection (the
    worker closes old ones around each task, as Django does around each request)."""
    fresh = connection.connection is None
    return {"orders": Order.objects.count(), "fresh_connection": fresh}
