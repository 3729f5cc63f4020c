"""Job, model version and gallery pages, and the actions on them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.web.gallery_html import download_links, inline_pngs
from webapp.jobs.models import Job, ModelVersion

pytestmark = pytest.mark.django_db


def svgs(content: bytes) -> list[str]:
    return re.findall(r"<svg class=\"chart\".*?</svg>", content.decode(), re.S)


def test_job_page_embeds_the_api_view_of_the_job_for_polling(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    job = make_job(owner, state=Job.State.RUNNING, progress=0.42, phase="search")
    response = owner_client.get(f"/jobs/{job.pk}/")
    content = response.content.decode()
    data = json.loads(
        re.search(
            r'<script id="job-data" type="application/json">(.*?)</script>',
            content,
            re.S,
        ).group(1)  # type: ignore[union-attr]
    )
    api = owner_client.get(f"/api/v1/jobs/{job.pk}").json()
    assert {key: data[key] for key in ("id", "state", "progress", "phase")} == {
        key: api[key] for key in ("id", "state", "progress", "phase")
    }
    assert f'data-api-url="/api/v1/jobs/{job.pk}"' in content
    assert 'value="42"' in content
    assert "Searching for the bandwidth" in content
    assert 'id="cancel-form"' in content
    assert "/static/web/job.js" in content


def test_finished_job_links_its_result(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    job = Job.objects.create(
        owner=owner,
        kind=Job.Kind.TRAINING,
        state=Job.State.SUCCEEDED,
        progress=1.0,
        params=model.settings,
    )
    ModelVersion.objects.filter(pk=model.pk).update(training_job=job)
    content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/models/{model.pk}/"' in content
    assert re.search(r'id="cancel-form"[^>]*hidden', content)


def test_a_generations_page_shows_its_images_once_it_has_them(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    model = make_model_version(owner)
    done = make_gallery(owner, model, n_images=4)
    content = owner_client.get(f"/jobs/{done.job_id}/").content.decode()
    sheet = re.search(r'<img id="job-result-sheet"[^>]*>', content)
    assert sheet
    url = f"/api/v1/galleries/{done.pk}/grid.png?columns=16"
    assert f'src="{url}"' in sheet.group(0)
    assert " hidden" not in sheet.group(0)
    # A phone's, 8 images a row.
    narrow = re.search(r'<source id="job-result-sheet-narrow"[^>]*>', content)
    assert narrow
    assert 'media="(max-width: 640px)"' in narrow.group(0)
    assert f'srcset="/api/v1/galleries/{done.pk}/grid.png?columns=8"' in narrow.group(0)
    # The sheet it points to is the gallery's, served to its owner.
    answer = owner_client.get(url)
    assert (answer.status_code, answer["Content-Type"]) == (200, "image/png")
    queued = Job.objects.create(
        owner=owner, kind=Job.Kind.GENERATION, params={"model_version": model.pk}
    )
    content = owner_client.get(f"/jobs/{queued.pk}/").content.decode()
    sheet = re.search(r'<img id="job-result-sheet"[^>]*>', content)
    assert sheet
    # No image yet: job.js sets it from this once a poll names the gallery.
    assert 'data-sheet-url="/api/v1/galleries/0/grid.png?columns=16"' in sheet.group(0)
    assert "src=" not in sheet.group(0)
    assert " hidden" in sheet.group(0)
    narrow = re.search(r'<source id="job-result-sheet-narrow"[^>]*>', content)
    assert narrow
    assert 'data-sheet-url="/api/v1/galleries/0/grid.png?columns=8"' in narrow.group(0)
    assert "srcset=" not in narrow.group(0)
    training = Job.objects.create(owner=owner, kind=Job.Kind.TRAINING, params={})
    content = owner_client.get(f"/jobs/{training.pk}/").content.decode()
    assert "job-result-sheet" not in content


def test_failed_job_shows_its_error(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    job = make_job(owner, state=Job.State.FAILED, error="ValueError: broken data")
    content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "ValueError: broken data" in content
    assert not re.search(r'id="job-error"[^>]*hidden', content)


def test_cancel_button_cancels_a_queued_job(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    job = make_job(owner)
    response = owner_client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert "cancelled before it started" in response.content.decode()


def test_cancelling_a_finished_job_says_so_and_changes_nothing(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    job = make_job(owner, state=Job.State.SUCCEEDED, progress=1.0)
    response = owner_client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    assert "already finished" in response.content.decode()


def test_model_page_shows_stats_both_plots_and_samples(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    response = owner_client.get(f"/models/{model.pk}/")
    content = response.content.decode()
    charts = svgs(response.content)
    assert len(charts) == 2
    variance, cv = charts
    assert "Explained variance against components" in variance
    assert "Principal components kept" in variance
    assert "Cross-validated log-likelihood against bandwidth" in cv
    assert "Bandwidth (log scale)" in cv
    assert 'class="chart-marker' in cv
    assert "chosen bandwidth" in cv
    assert len(re.findall(r'<polyline class="series-0 chart-line"', cv)) == 1
    assert content.count('src="data:image/png;base64,') == 16
    stats = model.stats()
    assert f">{stats['pca_components']}<" in content
    assert f'href="/api/v1/model-versions/{model.pk}/download"' in content
    assert 'name="digit"' in content


def test_model_without_a_search_explains_the_missing_plot(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    metrics = {**model.metrics, "cv": None}
    settings = {**model.settings, "bandwidth": "scott"}
    ModelVersion.objects.filter(pk=model.pk).update(metrics=metrics, settings=settings)
    response = owner_client.get(f"/models/{model.pk}/")
    assert len(svgs(response.content)) == 1
    assert "Scott&#x27;s rule" in response.content.decode()


def test_unconditional_model_offers_no_digit(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner, class_conditional=False)
    content = owner_client.get(f"/models/{model.pk}/").content.decode()
    assert 'name="digit"' not in content


def test_generation_form_queues_a_job(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    model = make_model_version(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/models/{model.pk}/generate/",
            {"n_images": "16", "digit": "7", "seed": "3", "temperature": "0.5"},
        )
    job = Job.objects.get()
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == Job.Kind.GENERATION
    assert job.params == {
        "model_version": model.pk,
        "n_images": 16,
        "digit": 7,
        "seed": 3,
        "temperature": 0.5,
    }
    assert dispatched.calls == [("generation", job.pk, job.celery_task_id)]


def test_generation_from_the_public_demo_model(
    owner: User,
    other_user: User,
    client_of: Any,
    make_model_version: Any,
    dispatched: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    demo = make_model_version(other_user, is_public=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(owner).post(
            f"/models/{demo.pk}/generate/", {"n_images": "4", "temperature": "1"}
        )
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.owner, job.params["model_version"], job.params["digit"]) == (
        owner,
        demo.pk,
        None,
    )
    assert isinstance(job.params["seed"], int)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"n_images": "0"}, "n_images"),
        ({"n_images": "257"}, "n_images"),
        ({"n_images": "many"}, "n_images"),
        ({"temperature": "5"}, "temperature"),
        ({"seed": "-4"}, "seed"),
    ],
)
def test_bad_generation_values_show_errors_and_queue_nothing(
    owner: User,
    owner_client: Client,
    make_model_version: Any,
    dispatched: Any,
    values: dict[str, str],
    field: str,
) -> None:
    model = make_model_version(owner)
    data = {"n_images": "16", "temperature": "1", **values}
    response = owner_client.post(f"/models/{model.pk}/generate/", data)
    assert response.status_code == 400
    assert f'id="id_{field}_errors"' in response.content.decode()
    assert not Job.objects.exists()
    assert dispatched.calls == []


def test_digit_on_an_unconditional_model_is_refused(
    owner: User, owner_client: Client, make_model_version: Any, dispatched: Any
) -> None:
    model = make_model_version(owner, class_conditional=False)
    response = owner_client.post(
        f"/models/{model.pk}/generate/", {"n_images": "4", "digit": "3"}
    )
    assert response.status_code == 400
    assert not Job.objects.exists()


def test_set_default_moves_the_flag(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    first = make_model_version(owner)
    second = make_model_version(owner)
    assert (
        "Set as default" in owner_client.get(f"/models/{second.pk}/").content.decode()
    )
    response = owner_client.post(f"/models/{second.pk}/set-default/")
    assert response["Location"] == f"/models/{second.pk}/"
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    assert "Your default" in owner_client.get(f"/models/{second.pk}/").content.decode()


def test_gallery_page_lists_downloadable_images_and_figures(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    model = make_model_version(owner)
    gallery = make_gallery(
        owner,
        model,
        n_images=4,
        digit=2,
        evaluation={
            "n_images": 4,
            "mean_confidence": 0.93,
            "confident_fraction": 0.75,
            "class_entropy": 0.5,
            "max_class_entropy": 3.32,
            "classes": list(range(10)),
            "class_histogram": [0, 0, 3, 1, 0, 0, 0, 0, 0, 0],
            "novelty": 0.8,
            "novelty_real_test": 0.9,
            "digit_match_fraction": 0.75,
        },
    )
    response = owner_client.get(f"/galleries/{gallery.pk}/")
    content = response.content.decode()
    image_ids = list(gallery.images.values_list("pk", flat=True))
    for image_id in image_ids:
        assert f'href="/api/v1/images/{image_id}.png" download=' in content
    assert f'href="/api/v1/galleries/{gallery.pk}/grid.png"' in content
    assert f'href="/api/v1/galleries/{gallery.pk}/download"' in content
    assert f'href="/models/{model.pk}/"' in content
    assert "75.0%" in content
    assert "93.0%" in content
    assert "one digit was requested, so low is right" in content
    assert len(svgs(response.content)) == 1
    for image_id in image_ids[:1]:
        assert owner_client.get(f"/api/v1/images/{image_id}.png").status_code == 200


def test_the_gallery_page_inlines_its_images_rather_than_fetching_each(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, make_model_version(owner), n_images=5)
    html = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    images = list(gallery.images.order_by("index"))
    assert inline_pngs(html) == [bytes(image.png) for image in images]
    assert download_links(html) == [
        f"/api/v1/images/{image.pk}.png" for image in images
    ]
    # Nothing on the page makes the browser fetch an image's own URL.
    fetched = re.findall(r'\ssrc="([^"]+)"', html)
    assert not [url for url in fetched if "/images/" in url]


def test_each_tile_names_its_image_and_a_walk_may_join_any_two(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, make_model_version(owner), n_images=3, digit=2)
    html = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    images = list(gallery.images.order_by("index"))
    for image in images:
        number = image.index + 1
        assert (
            f'download="image-{image.index:03d}.png" aria-label="Download image '
            f'{number} (digit 2), seed {image.seed}"'
        ) in html
        assert (
            f'<span class="tile-caption" aria-hidden="true">{number}</span>'
            f'<span class="tile-id" title="Image id, for walks">#{image.pk}</span>'
        ) in html
    for end, chosen in (("from", images[0]), ("to", images[-1])):
        select = re.search(rf'<select id="walk-{end}" name="\w+">(.*?)</select>', html)
        assert select, end
        assert re.findall(
            r'<option value="(\d+)"( selected)?>(\d+) \(#(\d+)\)</option>',
            select.group(1),
        ) == [
            (str(i.pk), " selected" if i == chosen else "", str(i.index + 1), str(i.pk))
            for i in images
        ]


def test_the_gallery_page_queries_do_not_grow_with_its_images(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    model_version = make_model_version(owner)
    counts = []
    for n_images in (2, 24):
        gallery = make_gallery(owner, model_version, n_images=n_images)
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(f"/galleries/{gallery.pk}/")
        assert len(inline_pngs(response.content.decode())) == n_images
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_gallery_without_evaluation_says_so(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, make_model_version(owner))
    content = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert "No evaluation" in content


def test_a_gallery_being_evaluated_says_so_and_polls_its_row(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, make_model_version(owner), evaluation_state="pending")
    content = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert "Evaluating…" in content
    assert 'data-evaluation-state="pending"' in content
    assert f'data-gallery-url="/api/v1/galleries/{gallery.pk}"' in content
    assert "web/gallery.js" in content


def test_a_failed_evaluation_says_so(
    owner: User, owner_client: Client, make_model_version: Any, make_gallery: Any
) -> None:
    gallery = make_gallery(owner, make_model_version(owner), evaluation_state="failed")
    content = owner_client.get(f"/galleries/{gallery.pk}/").content.decode()
    assert "could not be computed" in content
    assert "Evaluating…" not in content


def test_a_per_class_model_page_tabulates_every_digits_pca(
    owner: User, owner_client: Client, make_model_version: Any, per_class_file: Any
) -> None:
    model = make_model_version(
        owner,
        settings=per_class_file.settings,
        metrics=per_class_file.metrics,
        model_file=per_class_file.content,
        model_sha256=per_class_file.sha256,
        model_size=len(per_class_file.content),
    )
    content = owner_client.get(f"/models/{model.pk}/").content.decode()
    table = re.search(r'id="per-class".*?</table>', content, re.S)
    assert table is not None
    rows = re.findall(r"<tr><td>(\d)</td>(.*?)</tr>", table.group(0))
    assert [digit for digit, _ in rows] == [str(d) for d in range(10)]
    for (_, cells), figures in zip(rows, model.stats()["per_class"], strict=True):
        assert f">{figures['n_components']}<" in cells
        assert f">{figures['bandwidth']:.3f}<" in cells
    assert "Each digit had a search of its own" in content
    assert "<dt>PCA scope</dt><dd>one PCA per digit</dd>" in content
    assert "this model's own is 1.2" in content
    assert 'name="temperature" value="1.2"' in content
    # Its samples are drawn through the digits' own PCAs.
    assert content.count('src="data:image/png;base64,') == 16


def test_a_shared_model_page_has_no_per_digit_table(
    owner: User, owner_client: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    content = owner_client.get(f"/models/{model.pk}/").content.decode()
    assert 'id="per-class"' not in content
    assert "fidelity for novelty" in content
