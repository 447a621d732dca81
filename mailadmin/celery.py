import os

from celery import Celery
from kombu import Queue
from kombu.common import Broadcast

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailadmin.settings")

app = Celery("mailadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The default queue, the shared mail-host queue and the fan-out one every host's worker reads
# (`host.<name>` queues are created on demand). mailhost/models.py names them.
app.conf.task_queues = (Queue("celery"), Queue("mailhost"), Broadcast("broadcast"))
app.conf.task_create_missing_queues = True
app.autodiscover_tasks()
