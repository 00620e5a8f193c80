"""Named prompt variants: `variant_names` on the experiment, checked against the parameter space."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.test_experiments import document, locs, project

KEY = "stages.summarize.prompt_template"


def test_variant_names_are_stored_returned_and_kept_on_partial_updates(admin: TestClient) -> None:
    project_id = project(admin)
    created = admin.post("/api/v1/experiments", json=document(project_id, variant_names={KEY: [" concise ", ""]}))
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["variant_names"] == {KEY: ["concise", ""]}
    # The names do not change what runs: the grid and the stored values are the plain texts.
    assert experiment["grid_size"] == 2 * 3 * 2 * 4
    assert experiment["parameter_space"][KEY] == ["Summarize: {{ previous }}", "TL;DR: {{ previous }}"]
    path = f"/api/v1/experiments/{experiment['id']}"

    kept = admin.put(path, json={"description": "other"}).json()
    assert kept["variant_names"] == {KEY: ["concise", ""]}, "a partial update keeps the names"
    renamed = admin.put(path, json={"variant_names": {KEY: ["concise", "tldr"]}}).json()
    assert renamed["variant_names"] == {KEY: ["concise", "tldr"]}
    shrunk = admin.put(path, json={"parameter_space": {KEY: ["Summarize: {{ previous }}"]}}).json()
    assert shrunk["variant_names"] == {KEY: ["concise"]}, "names of values that left are dropped"
    gone = admin.put(path, json={"parameter_space": {}}).json()
    assert gone["variant_names"] == {}
    assert admin.get(path).json()["variant_names"] == {}
    listed = admin.get("/api/v1/experiments", params={"project_id": project_id})
    assert listed.status_code == 200


def test_variant_names_that_do_not_fit_are_422_with_their_loc(admin: TestClient) -> None:
    project_id = project(admin)
    too_many = admin.post("/api/v1/experiments", json=document(project_id, variant_names={KEY: ["a", "b", "c"]}))
    assert too_many.status_code == 422 and locs(too_many) == [["body", "variant_names", KEY]]
    assert "3 names for 2 values" in too_many.json()["detail"][0]["msg"]
    not_list = admin.post("/api/v1/experiments", json=document(project_id, variant_names={"vars.chunk_size": ["x"]}))
    assert not_list.status_code == 422 and locs(not_list) == [["body", "variant_names", "vars.chunk_size"]]
    twice = admin.post("/api/v1/experiments", json=document(project_id, variant_names={KEY: ["same", "same"]}))
    assert twice.status_code == 422 and "same name" in twice.json()["detail"][0]["msg"]
    long = admin.post("/api/v1/experiments", json=document(project_id, variant_names={KEY: ["x" * 61]}))
    assert long.status_code == 422
    nul = admin.post("/api/v1/experiments", json=document(project_id, variant_names={KEY: ["a\u0000"]}))
    assert nul.status_code == 422


def test_estimate_accepts_a_document_with_variant_names(admin: TestClient) -> None:
    # The builder sends the document it edits, names included: the estimate must not answer 500.
    doc = document(project(admin), variant_names={KEY: ["concise", ""]})
    answer = admin.post("/api/v1/experiments/estimate", json={"document": doc})
    assert answer.status_code == 200, answer.text
    assert answer.json()["runs"] == 2 * 3 * 2 * 4


def test_exports_and_report_name_the_variants(admin: TestClient) -> None:
    from tests.support.flows import make_endpoint, make_experiment, wait_status
    from tests.support.llm_server import LLMServer

    long_a = "Answer in one short sentence, nothing else: {{ input }}"
    long_b = "Answer in one short sentence, then stop there: {{ input }}"
    with LLMServer(models=["m1"]) as server:
        endpoint_id = make_endpoint(admin, server.base_url)
        experiment_id = make_experiment(admin, endpoint_id, samples=1, space={"prompt_template": [long_a, long_b]})
        path = f"/api/v1/experiments/{experiment_id}"
        assert admin.put(path, json={"variant_names": {"prompt_template": ["concise"]}}).status_code == 200
        admin.post(f"{path}/sweep", json={"type": "grid"})
        wait_status(admin, experiment_id)
        best = admin.get(f"{path}/export/best").json()
        assert best["variants"]["prompt_template"] in {"concise", "v2"}
        assert best["prompt_template"] == (long_a if best["variants"]["prompt_template"] == "concise" else long_b)
        report = admin.get(f"{path}/export/report").text
        assert "| prompt_template |" in report.splitlines()[next(
            i for i, line in enumerate(report.splitlines()) if line.startswith("| rank"))]
        assert "## Prompt variants" in report and "**prompt_template · concise**" in report
        assert "**prompt_template · v2**" in report and long_b in report
