from django.http import HttpResponse

from .models import Job
from .tasks import complete


def home(request):
    return HttpResponse("yourproject is up\n")


def host(request):
    return HttpResponse(request.get_host())


def enqueue(request):
    job = Job.objects.create(name=request.GET.get("name", "job"))
    complete.delay(job.id)
    return HttpResponse(str(job.id))


def done(request):
    job = Job.objects.get(name=request.GET["name"])
    return HttpResponse("done" if job.done else "pending")
