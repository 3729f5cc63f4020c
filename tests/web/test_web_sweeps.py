"""The training form's sweep mode, the sweep's page and the list of sweeps."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tests.web.test_web_training import field_errors, form_values
from webapp.gallery.models import Gallery
from webapp.jobs import runner
from webapp.jobs.models import Job, ModelVersion
from webapp.sweeps.models import Sweep, SweepRun

pytestmark = pytest.mark.django_db

URL = "/training/new/"


def sweep_values(**overrides: Any) -> dict[str, Any]:
    return form_values(
        "preview",
        name="kernels",
        n_components="5",
        bandwidth_mode="value",
        bandwidth_value="1.0",
        mode="sweep",
        **overrides,
    )


def post_sweep(client: Client, capture: Any, **overrides: Any) -> Any:
    with capture(execute=True):
        return client.post(URL, sweep_values(**overrides))


def test_the_form_offers_the_sweep_mode(owner_client: Client) -> None:
    content = owner_client.get(URL + "?mode=sweep").content.decode()
    assert re.search(r'<input[^>]*name="mode"[^>]*value="sweep"[^>]*checked', content)
    assert 'name="sweep_kernel" value="tophat"' in content
    assert "web/sweep-form.js" in content
    single = owner_client.get(URL).content.decode()
    assert re.search(r'<input[^>]*name="mode"[^>]*value="single"[^>]*checked', single)


def test_ticked_values_queue_a_sweep_of_their_combinations(
    owner: User,
    owner_client: Client,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    response = post_sweep(
        owner_client,
        django_capture_on_commit_callbacks,
        sweep_kernel=["gaussian", "tophat"],
        sweep_whiten=["false", "true"],
    )
    sweep = Sweep.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sweeps/{sweep.pk}/"
    assert (sweep.owner, sweep.name) == (owner, "kernels")
    assert sweep.grid == {"kernel": ["gaussian", "tophat"], "whiten": [False, True]}
    params = [run.job.params for run in SweepRun.objects.select_related("job")]
    assert [(p["kernel"], p["whiten"]) for p in params] == [
        ("gaussian", False),
        ("gaussian", True),
        ("tophat", False),
        ("tophat", True),
    ]
    assert {(p["n_components"], p["bandwidth"]) for p in params} == {(5, 1.0)}
    assert len(dispatched.calls) == 4


def test_a_sweep_with_nothing_ticked_is_refused(
    owner_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    response = post_sweep(owner_client, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "Tick at least one value" in response.content.decode()
    assert not Sweep.objects.exists()


def test_a_bad_base_setting_is_shown_on_its_field(
    owner_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    response = post_sweep(
        owner_client,
        django_capture_on_commit_callbacks,
        n_train="-3",
        sweep_kernel=["gaussian", "tophat"],
    )
    assert response.status_code == 400
    assert field_errors(response.content, "n_train")
    assert not Sweep.objects.exists()
    assert not Job.objects.exists()


def test_too_many_combinations_are_refused_with_the_count(
    owner_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.MAX_SWEEP_COMBINATIONS = 3
    response = post_sweep(
        owner_client,
        django_capture_on_commit_callbacks,
        sweep_kernel=["gaussian", "tophat"],
        sweep_whiten=["false", "true"],
    )
    assert response.status_code == 400
    assert "makes 4 combinations" in response.content.decode()
    assert not Sweep.objects.exists()


def test_an_unknown_ticked_value_is_refused(
    owner_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    response = post_sweep(
        owner_client, django_capture_on_commit_callbacks, sweep_kernel=["triangle"]
    )
    assert response.status_code == 400
    assert field_errors(response.content, "sweep_kernel")
    assert not Sweep.objects.exists()


@pytest.fixture
def finished_sweep(
    owner_client: Client,
    settings: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> Sweep:
    """Three runs trained for real (n_components 5, 10, 20 on digits)."""
    settings.MAX_ACTIVE_TRAINING_JOBS = 1
    post_sweep(
        owner_client,
        django_capture_on_commit_callbacks,
        n_train="200",
        sweep_n_components=["5", "10", "20"],
    )
    for run in SweepRun.objects.order_by("position"):
        with django_capture_on_commit_callbacks(execute=True):
            runner.run_training_job(run.job_id)
    return Sweep.objects.get()


def row_positions(content: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-run="(\d+)"', content)]


def test_the_page_marks_the_best_run_and_offers_compare_and_default(
    owner_client: Client, finished_sweep: Sweep
) -> None:
    models = {
        run.position: run.job.model_version
        for run in SweepRun.objects.select_related("job__model_version")
    }
    best_position = max(
        models, key=lambda p: models[p].metrics["test_log_likelihood"] or -1e300
    )
    content = owner_client.get(f"/sweeps/{finished_sweep.pk}/").content.decode()
    assert 'data-live="false"' in content
    best_row = re.search(r'<tr data-run="(\d+)" class="is-best"', content)
    assert best_row is not None
    assert int(best_row.group(1)) == best_position
    ranked = sorted(
        models.values(),
        key=lambda m: -(m.metrics["test_log_likelihood"] or -1e300),
    )
    ids = ",".join(str(m.pk) for m in ranked)
    assert f'href="/compare/?ids={ids}&amp;submitted=1"' in content
    best = models[best_position]
    if not best.is_default:
        assert f'action="/models/{best.pk}/set-default/"' in content


def test_make_the_best_the_default_in_one_click(
    owner: User, owner_client: Client, finished_sweep: Sweep
) -> None:
    # The first run's model became the default; the most variance is the last's.
    last = SweepRun.objects.get(sweep=finished_sweep, position=2).job.model_version
    content = owner_client.get(
        f"/sweeps/{finished_sweep.pk}/?metric=explained_variance"
    ).content.decode()
    assert re.search(r'<tr data-run="2" class="is-best"', content)
    match = re.search(r'action="/models/(\d+)/set-default/"', content)
    assert match is not None
    assert int(match.group(1)) == last.pk
    owner_client.post(f"/models/{last.pk}/set-default/")
    assert ModelVersion.objects.get(owner=owner, is_default=True) == last
    content = owner_client.get(
        f"/sweeps/{finished_sweep.pk}/?metric=explained_variance"
    ).content.decode()
    assert "set-default" not in content
    assert "your default model" in content


def test_the_table_sorts_by_any_column(
    owner_client: Client, finished_sweep: Sweep
) -> None:
    page = f"/sweeps/{finished_sweep.pk}/"
    content = owner_client.get(page).content.decode()
    assert row_positions(content) == [0, 1, 2]
    assert 'href="?sort=setting:n_components' in content
    down = owner_client.get(page + "?sort=setting:n_components&order=desc")
    assert row_positions(down.content.decode()) == [2, 1, 0]
    by_variance = owner_client.get(page + "?sort=explained_variance")
    assert row_positions(by_variance.content.decode()) == [0, 1, 2]
    # Unknown sort keys and metrics fall back to the defaults.
    odd = owner_client.get(page + "?sort=nope&metric=nope")
    assert odd.status_code == 200
    assert row_positions(odd.content.decode()) == [0, 1, 2]


def test_sample_confidence_is_each_models_newest_evaluated_gallerys(
    owner: User, owner_client: Client, finished_sweep: Sweep, make_gallery: Any
) -> None:
    models = {
        run.position: run.job.model_version
        for run in SweepRun.objects.select_related("job__model_version")
    }

    def evaluated(model: ModelVersion, confidence: float, **fields: Any) -> Gallery:
        gallery: Gallery = make_gallery(
            owner,
            model,
            evaluation={"mean_confidence": confidence},
            evaluation_state=Gallery.EvaluationState.DONE,
            **fields,
        )
        return gallery

    evaluated(models[0], 0.5)
    newest = evaluated(models[0], 0.61)  # the newest of run 0's
    only = evaluated(models[1], 0.7)
    evaluated(models[1], 0.99, digit=3)  # a digit asked: not the model's samples
    make_gallery(owner, models[1], evaluation_state=Gallery.EvaluationState.PENDING)
    content = owner_client.get(
        f"/sweeps/{finished_sweep.pk}/"
        "?metric=sample_confidence&sort=sample_confidence&order=desc"
    ).content.decode()
    # Run 2's model has no gallery: its cell says so, and it sorts last.
    assert row_positions(content) == [1, 0, 2]
    # Each figure links to the gallery it comes from.
    assert re.findall(
        r'<td class="num" data-label="Sample confidence">(?:<a href="([^"]*)"[^>]*>)?'
        r"([^<]*)(?:</a>)?</td>",
        content,
    ) == [
        (f"/galleries/{only.pk}/", "70.0%"),
        (f"/galleries/{newest.pk}/", "61.0%"),
        ("", "—"),
    ]
    assert re.search(r'<tr data-run="1" class="is-best"', content)
    assert 'id="sample-confidence-help"' in content


def test_the_partial_is_just_the_table(
    owner_client: Client, finished_sweep: Sweep
) -> None:
    content = owner_client.get(
        f"/sweeps/{finished_sweep.pk}/?partial=1"
    ).content.decode()
    assert "<html" not in content
    assert 'id="sweep-table"' in content


def test_a_running_sweep_is_live_and_can_be_cancelled(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    post_sweep(
        owner_client, django_capture_on_commit_callbacks, sweep_kernel=["gaussian"]
    )
    sweep = Sweep.objects.get()
    content = owner_client.get(f"/sweeps/{sweep.pk}/").content.decode()
    assert 'data-live="true"' in content
    assert "web/sweep.js" in content
    response = owner_client.post(f"/sweeps/{sweep.pk}/cancel/")
    assert response.status_code == 302
    assert set(Job.objects.values_list("state", flat=True)) == {"cancelled"}


def test_sweeps_are_listed_and_private(
    owner_client: Client,
    other_client_web: Client,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    post_sweep(
        owner_client, django_capture_on_commit_callbacks, sweep_kernel=["gaussian"]
    )
    sweep = Sweep.objects.get()
    listing = owner_client.get("/sweeps/").content.decode()
    assert f'href="/sweeps/{sweep.pk}/"' in listing
    assert (
        f'href="/sweeps/{sweep.pk}/"'
        not in other_client_web.get("/sweeps/").content.decode()
    )
    assert other_client_web.get(f"/sweeps/{sweep.pk}/").status_code == 404
    assert other_client_web.post(f"/sweeps/{sweep.pk}/cancel/").status_code == 404
    job_page = owner_client.get(f"/jobs/{sweep.runs.get().job_id}/").content.decode()
    assert f'href="/sweeps/{sweep.pk}/"' in job_page


def test_the_runs_without_a_sample_confidence_are_sampled_in_one_click(
    owner: User,
    owner_client: Client,
    finished_sweep: Sweep,
    settings: Any,
    make_gallery: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    page = f"/sweeps/{finished_sweep.pk}/"
    models = [
        run.job.model_version
        for run in SweepRun.objects.select_related("job__model_version").order_by(
            "position"
        )
    ]
    make_gallery(
        owner,
        models[0],
        evaluation={"mean_confidence": 0.5},
        evaluation_state=Gallery.EvaluationState.DONE,
    )
    # Without gallery evaluation a sample would give nothing: no button.
    assert 'id="sweep-sample-form"' not in owner_client.get(page).content.decode()
    settings.GALLERY_EVALUATION = True
    content = owner_client.get(page).content.decode()
    assert 'data-live="false"' in content
    assert f'action="/sweeps/{finished_sweep.pk}/sample/"' in content
    assert "Sample the 2 runs without it" in content

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(f"{page}sample/", follow=True)
    assert response.redirect_chain == [(page, 302)]
    content = response.content.decode()
    assert "Queued a gallery of 64 images from 2 runs&#x27; models" in content
    jobs = Job.objects.filter(kind=Job.Kind.GENERATION, state=Job.State.QUEUED)
    jobs = jobs.order_by("created_at")
    assert [job.params["model_version"] for job in jobs] == [m.pk for m in models[1:]]
    assert len(dispatched.job_ids) == 3 + 2
    # Live while the samples are on their way; no button, no cancelling.
    assert 'data-live="true"' in content
    assert "2 runs' samples on their way" in content
    assert 'id="sweep-sample-form"' not in content
    assert 'id="sweep-cancel-form"' not in content
    # A second click has nothing to queue, and says so, back on the table as it
    # was shown.
    shown = {"metric": "sample_confidence", "sort": "state", "order": "desc"}
    again = owner_client.post(f"{page}sample/", shown, follow=True)
    assert again.redirect_chain == [
        (f"{page}?metric=sample_confidence&sort=state&order=desc", 302)
    ]
    assert "Every run&#x27;s sample is on its way already." in again.content.decode()
    assert jobs.count() == 2


def test_sampling_someone_elses_sweep_is_404(
    other_client_web: Client, finished_sweep: Sweep, settings: Any
) -> None:
    settings.GALLERY_EVALUATION = True
    response = other_client_web.post(f"/sweeps/{finished_sweep.pk}/sample/")
    assert response.status_code == 404
    assert not Job.objects.filter(kind=Job.Kind.GENERATION).exists()
