from django.db import models


class Job(models.Model):
    """A job the web process enqueues and the Celery worker completes."""

    name = models.CharField(max_length=100)
    done = models.BooleanField(default=False)
