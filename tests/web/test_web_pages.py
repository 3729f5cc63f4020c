"""What a newcomer meets on the pages: the site's own error pages, logging out,
whole error messages, settings that applied, the figures beside the samples,
live counts, natural sorting and the data sets this server has."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from generator.datasets import sources
from webapp.jobs import services
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db

# Django's technical pages, which must never reach a visitor.
DEBUG_PAGE_MARKERS = ("URLconf", "Django tried these URL patterns", "Traceback")


def assert_branded(response: Any, status: int, heading: str) -> str:
    content = response.content.decode()
    assert response.status_code == status
    assert "MNIST KDE Studio" in content
    assert f'<h1 id="error-title">{heading}</h1>' in content
    assert not any(marker in content for marker in DEBUG_PAGE_MARKERS)
    return content


def test_a_missing_or_foreign_page_is_the_sites_404(
    owner_client: Client, other_user: User, make_job: Any
) -> None:
    assert_branded(owner_client.get("/no/such/page/"), 404, "Page not found")
    foreign = make_job(other_user)
    content = assert_branded(
        owner_client.get(f"/jobs/{foreign.pk}/"), 404, "Page not found"
    )
    assert 'href="/dashboard/"' in content
    assert owner_client.get(f"/jobs/{uuid.uuid4()}/").status_code == 404
    # The API keeps answering JSON.
    response = owner_client.get("/api/v1/no-such-endpoint")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_a_bad_host_is_the_sites_400(client: Client) -> None:
    assert_branded(client.get("/", HTTP_HOST="evil.example"), 400, "Bad request")


def test_a_form_without_its_token_is_the_sites_403(owner: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    content = assert_branded(
        client.post("/training/new/", {"preset": "preview"}), 403, "The form expired"
    )
    assert "reload the page" in content
    assert not Job.objects.exists()


def test_a_server_error_is_the_sites_500(
    owner_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.jobs import serving

    def broken(user: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(serving, "default_model_version", broken)
    owner_client.raise_request_exception = False
    content = assert_branded(
        owner_client.get("/dashboard/"), 500, "Something went wrong"
    )
    assert "database on fire" not in content


def test_get_logout_asks_and_post_logs_out_and_says_so(
    owner: User, owner_client: Client
) -> None:
    page = owner_client.get("/logout/")
    assert page.status_code == 200
    content = page.content.decode()
    assert "<h1>Log out?</h1>" in content
    assert re.search(
        r'<form method="post" action="/logout/"[^>]*>.*?'
        r'<button class="btn btn-primary" type="submit">Log out</button>',
        content,
        re.S,
    )
    response = owner_client.post("/logout/", follow=True)
    assert response.redirect_chain == [("/", 302)]
    assert "You have been logged out." in response.content.decode()
    assert owner_client.get("/dashboard/").status_code == 302
    content = owner_client.get("/logout/").content.decode()
    assert "You are not logged in" in content


def test_landing_shows_the_old_apps_stats_beside_the_samples(
    client: Client, other_user: User, make_model_version: Any
) -> None:
    demo = make_model_version(other_user, is_public=True)
    content = client.get("/").content.decode()
    stats = demo.stats()
    block = re.search(r'<dl class="kv demo-stats".*?</dl>', content, re.S)
    assert block is not None
    text = re.sub(r"<[^>]+>", " ", block.group(0))
    assert re.sub(r"\s+", " ", text).strip() == (
        f"PCA components {stats['pca_components']} "
        f"Variance explained {stats['variance_explained']:.1%} "
        f"KDE bandwidth {stats['kde_bandwidth']:.3g} "
        f"Original dimensions {stats['original_dim']} "
        f"Reduced dimensions {stats['reduced_dim']}"
    )


def test_a_failed_job_shows_every_line_of_its_error(
    owner: User, owner_client: Client, make_job: Any
) -> None:
    error = (
        "DatasetUnavailable: Fashion-MNIST is unavailable; tried 2 source(s):\n"
        "  - local directory: not configured (set FASHION_MNIST_DIR)\n"
        "Install Debian's package (apt-get install dataset-fashion-mnist)."
    )
    job = make_job(owner, state=Job.State.FAILED, error=error)
    content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
    shown = re.search(
        r'<pre class="error-text" id="job-error-text">(.*?)</pre>', content, re.S
    )
    assert shown is not None
    assert shown.group(1).replace("&#x27;", "'") == error
    assert owner_client.get(f"/api/v1/jobs/{job.pk}").json()["error"] == error


def test_the_queued_message_is_marked_for_the_page_to_drop(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            "/training/new/",
            {
                "preset": "preview",
                **{
                    key: value
                    for key, value in owner_client.get("/training/new/?preset=preview")
                    .context["form"]
                    .initial.items()
                    if value is not False
                },
            },
            follow=True,
        )
    content = response.content.decode()
    assert re.search(
        r"<li [^>]*data-queued-message>Training run “preview run” queued", content
    )


def test_settings_that_did_not_apply_are_not_shown(
    owner: User,
    owner_client: Client,
    make_job: Any,
    make_model_version: Any,
    conditional_file: Any,
) -> None:
    fixed = services.validate_training_settings({"bandwidth": 0.5}, preset="preview")
    rule = services.validate_training_settings({"bandwidth": "scott"}, preset="preview")
    searched = services.validate_training_settings({}, preset="preview")
    for params, shown in ((fixed, False), (rule, False), (searched, True)):
        job = make_job(owner, params=params)
        content = owner_client.get(f"/jobs/{job.pk}/").content.decode()
        assert ("<dt>Bandwidth grid</dt>" in content) is shown
        assert ("<dt>Cross-validation folds</dt>" in content) is shown
    model = make_model_version(owner, settings={**conditional_file.settings, **fixed})
    content = owner_client.get(f"/models/{model.pk}/").content.decode()
    assert "<dt>Bandwidth grid</dt>" not in content
    assert "<dt>Cross-validation folds</dt>" not in content


def compare_rows(content: str) -> dict[str, tuple[bool, list[str]]]:
    """Each settings row of the compare page: (marked different, cells' text)."""
    table = re.search(r'id="cmp-settings-title".*?</table>', content, re.S)
    assert table is not None
    rows = {}
    for row in re.findall(
        r"<tr( class=\"is-different\")?>\s*<th scope=\"row\">(.*?)</tr>",
        table.group(0),
        re.S,
    ):
        differs, body = row
        label = re.sub(r"<.*", "", body, flags=re.S).strip()
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)
        ]
        rows[label] = (bool(differs), cells)
    return rows


def test_compare_does_not_match_settings_that_did_not_apply(
    owner: User, owner_client: Client, make_model_version: Any, conditional_file: Any
) -> None:
    def version(**settings: Any) -> Any:
        return make_model_version(
            owner, settings={**conditional_file.settings, **settings}
        )

    fixed_a, fixed_b = version(bandwidth=0.5), version(bandwidth=0.7)
    content = owner_client.get(
        f"/compare/?ids={fixed_a.pk},{fixed_b.pk}"
    ).content.decode()
    rows = compare_rows(content)
    # Neither searched: no grid or folds row at all.
    assert "Bandwidth grid" not in rows
    assert "Cross-validation folds" not in rows
    assert rows["Bandwidth"] == (True, ["0.5", "0.7"])
    searched = version()
    content = owner_client.get(
        f"/compare/?ids={fixed_a.pk},{searched.pk}"
    ).content.decode()
    rows = compare_rows(content)
    assert rows["Cross-validation folds"] == (True, ["not used", "2"])
    assert rows["Bandwidth grid"][0] is True
    assert rows["Bandwidth grid"][1][0] == "not used"


def test_compare_picker_filters_by_name_data_set_and_kernel(
    owner: User, owner_client: Client, make_model_version: Any, conditional_file: Any
) -> None:
    def version(name: str, kernel: str) -> Any:
        return make_model_version(
            owner, name=name, settings={**conditional_file.settings, "kernel": kernel}
        )

    batch_7, batch_13, other = (
        version("batch 7", "gaussian"),
        version("batch 13", "cosine"),
        version("smooth", "gaussian"),
    )

    def listed(query: str) -> list[int]:
        content = owner_client.get(f"/compare/?{query}").content.decode()
        return [int(pk) for pk in re.findall(r'id="pick-(\d+)"', content)]

    assert sorted(listed("")) == sorted([batch_7.pk, batch_13.pk, other.pk])
    assert sorted(listed("name=BATCH&filter=1")) == sorted([batch_7.pk, batch_13.pk])
    assert listed("name=batch&kernel=cosine&filter=1") == [batch_13.pk]
    assert listed("dataset=mnist&filter=1") == []
    # A version already picked stays listed, and filtering is no error.
    response = owner_client.get(f"/compare/?ids={other.pk}&kernel=cosine&filter=1")
    assert response.status_code == 200
    assert sorted(listed(f"ids={other.pk}&kernel=cosine&filter=1")) == sorted(
        [other.pk, batch_13.pk]
    )


def test_names_sort_naturally(
    owner: User, owner_client: Client, make_job: Any, make_model_version: Any
) -> None:
    for name in ["batch 13", "Batch 7", "batch 100", "alpha", "batch 7b"]:
        make_job(owner, name=name)
        make_model_version(owner, name=name)
    expected = ["alpha", "Batch 7", "batch 7b", "batch 13", "batch 100"]
    content = owner_client.get("/history/?sort=name").content.decode()
    assert re.findall(r'<a href="/jobs/[^"]+/">([^<]+)</a>', content) == expected
    content = owner_client.get("/history/?tab=models&sort=name").content.decode()
    assert re.findall(r'<a href="/models/\d+/">([^<]+) <span', content) == expected


def test_dashboard_counts_are_served_for_live_updates(
    owner: User,
    other_user: User,
    owner_client: Client,
    make_job: Any,
    make_model_version: Any,
    make_gallery: Any,
) -> None:
    assert owner_client.get("/dashboard/counts/").json()["listed"] == ";"
    gallery = make_gallery(owner, make_model_version(owner))
    jobs = [
        make_job(owner),
        make_job(owner, state=Job.State.RUNNING),
        make_job(owner, state=Job.State.RUNNING),
    ]
    make_job(other_user)
    # The ids the dashboard lists, jobs then galleries, newest first.
    listed = ",".join(str(job.pk) for job in [*reversed(jobs), gallery.job]) + (
        f";{gallery.pk}"
    )
    assert owner_client.get("/dashboard/counts/").json() == {
        "queued": 1,
        "running": 2,
        "models": 1,
        "galleries": 1,
        "listed": listed,
    }
    content = owner_client.get("/dashboard/").content.decode()
    assert 'data-counts-url="/dashboard/counts/"' in content
    assert 'data-recent-url="/dashboard/recent/"' in content
    assert '<div class="stat-value" id="count-galleries">1</div>' in content
    assert f'id="recent-jobs" aria-labelledby="jobs-title" data-listed="{listed}"' in (
        content
    )
    # A job deleted elsewhere changes what should be listed.
    jobs[0].delete()
    assert (
        str(jobs[0].pk) not in owner_client.get("/dashboard/counts/").json()["listed"]
    )
    assert Client().get("/dashboard/counts/").status_code == 302


def test_the_dashboards_lists_are_served_alone_to_swap_in(
    owner: User,
    other_user: User,
    owner_client: Client,
    make_job: Any,
    make_model_version: Any,
    make_gallery: Any,
) -> None:
    empty = owner_client.get("/dashboard/recent/").content.decode()
    assert 'data-listed=";"' in empty
    assert "Nothing has run yet" in empty
    assert "No galleries yet" in empty
    gallery = make_gallery(owner, make_model_version(owner))
    mine = [gallery.job, make_job(owner), make_job(owner, state=Job.State.SUCCEEDED)]
    theirs = make_job(other_user)
    response = owner_client.get("/dashboard/recent/")
    assert response.status_code == 200
    content = response.content.decode()
    # Exactly what the dashboard itself lists, both lists whole.
    dashboard = owner_client.get("/dashboard/").content.decode()
    for section in ("latest-galleries", "recent-jobs"):
        assert _section(content, section) == _section(dashboard, section)
    assert re.findall(r'data-job-id="([^"]+)"', content) == [
        str(job.pk) for job in reversed(mine)
    ]
    assert str(theirs.pk) not in content
    # A queued job's row says its place, as the row's live updates then do.
    assert "#1 in queue" in content
    assert f'href="/galleries/{gallery.pk}/"' in content
    listed = ",".join(str(job.pk) for job in reversed(mine)) + f";{gallery.pk}"
    assert f'data-listed="{listed}"' in content
    assert owner_client.get("/dashboard/counts/").json()["listed"] == listed
    assert Client().get("/dashboard/recent/").status_code == 302


def _section(content: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]* id="{section_id}".*?</section>', content, re.S)
    assert match, section_id
    return match.group(0)


def test_draw_new_ones_fetches_fresh_samples_of_this_model(
    owner: User, owner_client: Client, other_client_web: Client, make_model_version: Any
) -> None:
    model = make_model_version(owner)
    page = owner_client.get(f"/models/{model.pk}/").content.decode()
    assert f'data-samples-url="/models/{model.pk}/samples/"' in page
    first = owner_client.get(f"/models/{model.pk}/samples/").content.decode()
    second = owner_client.get(f"/models/{model.pk}/samples/").content.decode()
    sources_first = re.findall(r'src="(data:image/png;base64,[^"]+)"', first)
    assert len(sources_first) == 16
    assert sources_first != re.findall(r'src="(data:image/png;base64,[^"]+)"', second)
    assert "<html" not in first
    assert other_client_web.get(f"/models/{model.pk}/samples/").status_code == 404


def test_an_infinite_test_log_likelihood_is_explained(
    owner: User, owner_client: Client, make_model_version: Any, conditional_file: Any
) -> None:
    metrics = {**conditional_file.metrics, "test_log_likelihood": None}
    metrics.update(test_outside_support=37, n_test=359)
    settings = {**conditional_file.settings, "kernel": "tophat"}
    model = make_model_version(owner, metrics=metrics, settings=settings)
    content = owner_client.get(f"/models/{model.pk}/").content.decode()
    note = re.search(
        r'<p class="alert alert-info" id="loglik-note">(.*?)</p>', content, re.S
    )
    assert note is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", note.group(1)))
    assert (
        "37 of the 359 test images scored lie outside the support of every tophat "
        "kernel: it is zero farther than one bandwidth from its training image"
    ) in text
    # Beside other versions on the compare page too.
    other = make_model_version(owner)
    content = owner_client.get(f"/compare/?ids={model.pk},{other.pk}").content.decode()
    assert (
        f"{model}: a test log-likelihood of \u2212\u221e because 37 of the 359 "
        "test images scored lie outside the support of every tophat kernel." in content
    )


def test_the_form_says_which_data_sets_this_server_has(
    owner_client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, settings: Any
) -> None:
    settings.DATA_DIR = tmp_path
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr(sources, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "absent")
    content = owner_client.get("/training/new/").content.decode()
    options = dict(
        re.findall(r'<option value="([a-z-]+)"[^>]*>([^<]+)</option>', content)
    )
    assert options["digits"] == "digits (ready)"
    assert options["mnist"] == "mnist (fetched on first use)"
    assert options["fashion-mnist"] == "fashion-mnist (not available here)"
    assert re.search(r'<option value="fashion-mnist" disabled>', content)
    assert re.search(r'<option value="digits">', content)
    why = re.search(r'<li data-dataset-state="unavailable">(.*?)</li>', content, re.S)
    assert why is not None
    assert "apt-get install dataset-fashion-mnist" in why.group(1)


def test_a_presets_training_size_left_alone_adapts_to_a_smaller_data_set(
    owner_client: Client, dispatched: Any, django_capture_on_commit_callbacks: Any
) -> None:
    form = owner_client.get("/training/new/?preset=notebook").context["form"]
    values = {key: value for key, value in form.initial.items() if value is not False}
    assert values["n_train"] == "10000"
    values.update(dataset="digits", n_components="16")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post("/training/new/", values)
    assert response.status_code == 302, response.content.decode()
    job = Job.objects.get()
    assert (job.params["dataset"], job.params["n_train"]) == ("digits", 1438)
    # A size the user typed is theirs, and refused when too large.
    values.update(n_train="5000")
    response = owner_client.post("/training/new/", values)
    assert response.status_code == 400
    assert (
        "Training images must be an integer from 2 to 1438" in response.content.decode()
    )
