from django.urls import path

from main import views

urlpatterns = [
    path("", views.home),
    path("enqueue", views.enqueue),
    path("done", views.done),
    path("host", views.host),
]
