"""Experiments: the document of CONTRACT.md validated as a whole on create and update."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient


def document(project_id: str, **changes: Any) -> dict[str, Any]:
    """A valid two-stage experiment document."""
    doc: dict[str, Any] = {
        "project_id": project_id,
        "name": "summaries",
        "sample_data": [
            {"id": "s1", "input": "alpha beta", "reference": "alpha", "vars": {"topic": "greek"}},
            {"id": "s2", "input": "gamma delta", "vars": {"topic": "letters"}},
        ],
        "pipeline_stages": [
            {"name": "extract", "model": "m1", "system_prompt": "You extract facts about {{ vars.topic }}.",
             "prompt_template": "Facts in: {{ input }}", "params": {"temperature": 0.2, "max_tokens": 64}},
            {"name": "summarize", "model": "m1", "prompt_template": "Summarize: {{ previous }}"},
        ],
        "scoring_config": [
            {"scorer": "keyword", "weight": 2.0, "config": {"keywords": ["alpha"], "mode": "all"}},
            {"scorer": "length", "weight": 1.0, "config": {"max_words": 30}},
        ],
        "parameter_space": {
            "model": ["m1", "m2"],
            "temperature": [0.1, 0.5, 0.9],
            "stages.summarize.prompt_template": ["Summarize: {{ previous }}", "TL;DR: {{ previous }}"],
            "vars.chunk_size": {"min": 200, "max": 2000, "step": 600, "type": "int"},
        },
    }
    doc.update(changes)
    return doc


def project(admin: TestClient) -> str:
    """A project, with an endpoint (the first becomes the default, which the stages run on)."""
    admin.post("/api/v1/endpoints", json={"label": "default", "url": "http://127.0.0.1:9/v1"})
    return str(admin.post("/api/v1/projects", json={"name": "p"}).json()["id"])


def locs(response: Any) -> list[list[Any]]:
    return [e["loc"] for e in response.json()["detail"]]


def test_create_read_update_delete(admin: TestClient) -> None:
    project_id = project(admin)
    created = admin.post("/api/v1/experiments", json=document(project_id))
    assert created.status_code == 201, created.text
    experiment = created.json()
    assert experiment["status"] == "draft" and experiment["run_count"] == 0
    assert experiment["grid_size"] == 2 * 3 * 2 * 4
    assert experiment["pipeline_stages"][1]["name"] == "summarize"
    fetched = admin.get(f"/api/v1/experiments/{experiment['id']}").json()
    assert fetched["parameter_space"]["model"] == ["m1", "m2"]
    updated = admin.put(f"/api/v1/experiments/{experiment['id']}", json={"description": "v2", "parameter_space": {}})
    assert updated.status_code == 200 and updated.json()["description"] == "v2" and updated.json()["grid_size"] == 1
    listed = admin.get("/api/v1/experiments", params={"project_id": project_id}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == experiment["id"]
    detail = admin.get(f"/api/v1/projects/{project_id}").json()
    assert [e["id"] for e in detail["experiments"]] == [experiment["id"]]
    assert admin.delete(f"/api/v1/experiments/{experiment['id']}").status_code == 204
    assert admin.get(f"/api/v1/experiments/{experiment['id']}").status_code == 404


def test_unknown_project_is_404(admin: TestClient) -> None:
    response = admin.post("/api/v1/experiments", json=document(str(uuid.uuid4())))
    assert response.status_code == 404 and response.json()["code"] == "project_not_found"


def test_duplicate_stage_names(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][1]["name"] = "extract"
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert any("pipeline_stages" in loc for loc in locs(response))


def test_template_syntax_error(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][0]["prompt_template"] = "Facts in: {{ input "
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422
    assert any(loc[-1] == "prompt_template" for loc in locs(response))


def test_undefined_template_name(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][0]["prompt_template"] = "Facts in: {{ inptu }}"
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422 and "inptu" in response.text


def test_previous_in_first_stage_and_undefined_var(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][0]["prompt_template"] = "{{ previous }} {{ vars.missing }}"
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422
    assert "previous" in response.text and "missing" in response.text


def test_swept_var_and_later_stage_output_are_defined(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][1]["prompt_template"] = "{{ stages.extract.output }} in {{ vars.chunk_size }} chars"
    assert admin.post("/api/v1/experiments", json=doc).status_code == 201


def test_unresolvable_parameter_space_key(admin: TestClient) -> None:
    doc = document(project(admin), parameter_space={"stages.nope.model": ["m1"], "Bad Key!": [1]})
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422
    assert "stages.nope.model" in response.text


def test_unknown_scorer_and_negative_weight(admin: TestClient) -> None:
    doc = document(project(admin), scoring_config=[{"scorer": "nope"}, {"scorer": "length", "weight": -1,
                                                                        "config": {"max_words": 3}}])
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422
    assert "nope" in response.text


def test_bad_scorer_config_names_field(admin: TestClient) -> None:
    doc = document(project(admin), scoring_config=[{"scorer": "keyword", "config": {"mode": "all"}}])
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422 and "keywords" in response.text


def test_unknown_endpoint_in_stage(admin: TestClient) -> None:
    doc = document(project(admin))
    doc["pipeline_stages"][0]["endpoint_id"] = str(uuid.uuid4())
    response = admin.post("/api/v1/experiments", json=doc)
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "unknown_endpoint"


def test_update_validates_merged_document(admin: TestClient) -> None:
    experiment = admin.post("/api/v1/experiments", json=document(project(admin))).json()
    bad = admin.put(f"/api/v1/experiments/{experiment['id']}",
                    json={"pipeline_stages": [{"name": "only", "prompt_template": "{{ previous }}"}]})
    assert bad.status_code == 422
    assert admin.get(f"/api/v1/experiments/{experiment['id']}").json()["pipeline_stages"][0]["name"] == "extract"
    assert admin.put(f"/api/v1/experiments/{uuid.uuid4()}", json={"description": "x"}).status_code == 404


def test_guest_and_anonymous_cannot_write(admin: TestClient, anon: TestClient) -> None:
    project_id = project(admin)
    assert anon.post("/api/v1/experiments", json=document(project_id)).status_code == 401
    assert anon.get("/api/v1/experiments").status_code == 401
    assert admin.get("/api/v1/experiments", params={"status": "bogus"}).status_code == 422


def test_linked_choice_is_one_dimension_and_validated_with_locs(admin: TestClient) -> None:
    pid = project(admin)
    linked = [{"model": "m1", "params": {"temperature": 0.1}}, {"model": "m2", "params": {"max_tokens": 8}},
              {"model": "m3", "system_prompt": "Be brief about {{ vars.topic }}."}]
    doc = document(pid, parameter_space={"stages.extract": linked,
                                         "stages.summarize.prompt_template": ["A {{ previous }}", "B {{ previous }}"]})
    created = admin.post("/api/v1/experiments", json=doc)
    assert created.status_code == 201, created.text
    assert created.json()["grid_size"] == 6  # 3 linked values x 2 templates
    bad = document(pid, name="bad", parameter_space={"stages.extract": [
        {"model": "m1", "colour": "red"}, {"model": "m2", "params": {"stream": True}}, {"model": "m3",
                                                                                        "prompt_template": 5}]})
    response = admin.post("/api/v1/experiments", json=bad)
    assert response.status_code == 422
    assert {tuple(loc) for loc in locs(response)} >= {
        ("body", "parameter_space", "stages.extract", 0, "colour"),
        ("body", "parameter_space", "stages.extract", 1, "params", "stream"),
        ("body", "parameter_space", "stages.extract", 2, "prompt_template")}
    unknown = document(pid, name="unknown", parameter_space={"stages.extract": [{"endpoint_id": str(uuid.uuid4())}]})
    response = admin.post("/api/v1/experiments", json=unknown)
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "unknown_endpoint"


def test_scorer_samples_and_threshold_are_kept(admin: TestClient) -> None:
    scoring = [{"scorer": "keyword", "name": "only s1", "samples": ["s1"], "threshold": 1.0,
                "config": {"keywords": ["alpha"]}}]
    created = admin.post("/api/v1/experiments", json=document(project(admin), scoring_config=scoring))
    assert created.status_code == 201, created.text
    entry = created.json()["scoring_config"][0]
    assert entry["samples"] == ["s1"] and entry["threshold"] == 1.0
    bad = admin.put(f"/api/v1/experiments/{created.json()['id']}",
                    json={"scoring_config": [{**scoring[0], "samples": ["s9"]}]})
    assert bad.status_code == 422 and ["body", "scoring_config", 0, "samples", 0] in locs(bad)
