from celery import shared_task

from .models import Job


@shared_task
def complete(job_id):
    Job.objects.filter(id=job_id).update(done=True)
