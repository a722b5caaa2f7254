from django.db import transaction
from django.http import HttpRequest, JsonResponse

from orders.models import Order
from qtasks.contrib.django import add_task_on_commit


def create_order(request: HttpRequest) -> JsonResponse:
    """POST item=... creates an order; its receipt task is enqueued only if the order
    is committed."""
    with transaction.atomic():
        order = Order.objects.create(item=request.POST.get("item", "book"), paid=True)
        add_task_on_commit("orders.send_receipt", order.pk)
    return JsonResponse({"id": order.pk})


def show_order(request: HttpRequest, order_id: int) -> JsonResponse:
    order = Order.objects.get(pk=order_id)
    return JsonResponse({"id": order.pk, "item": order.item, "receipt": order.receipt})
