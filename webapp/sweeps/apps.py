from __future__ import annotations

from django.apps import AppConfig


class SweepsConfig(AppConfig):
    name = "webapp.sweeps"
    label = "sweeps"
    verbose_name = "parameter sweeps"

    def ready(self) -> None:
        from webapp.jobs.signals import job_ended
        from webapp.sweeps import services

        job_ended.connect(
            services.feed_after_job_ended, dispatch_uid="sweeps-feed-after-job"
        )
