from django.urls import include, path
from orders import views

from qtasks.contrib.django.dashboard import dashboard_urls

urlpatterns = [
    path("orders/", views.create_order),
    path("orders/<int:order_id>/", views.show_order),
    # the qtasks dashboard, for staff members (Django's login and session)
    path("ops/", include(dashboard_urls())),
]
