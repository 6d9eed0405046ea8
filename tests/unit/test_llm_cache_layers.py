"""Cache hits by layer (exact, near, miss): counted per request, per agent run, in metrics."""

from __future__ import annotations

from prometheus_client import REGISTRY

from reviewer.llm.cache import CachedChunkReviewer, MemoryCacheStore
from reviewer.render import render_json
from tasks.metrics import observe_agent_result
from tests.unit.test_llm_cache import FUNC, FakeModel, _embed, _request, _unit


def test_each_request_says_how_many_units_hit_which_layer():
    model, store = FakeModel(), MemoryCacheStore()
    cached = CachedChunkReviewer(inner=model, store=store, embed=_embed)
    first = cached(_request([_unit("app/a.py", 10)]))
    assert first.cache_layers == {"exact": 0, "near": 0, "miss": 1}
    moved = [*FUNC[:3], "    return cur.fetchone()  # first row"]  # near, not exact
    again = cached(_request([_unit("app/a.py", 30), _unit("app/b.py", 5, moved), _unit("app/c.py", 1, ["x = 1"])]))
    assert again.cache_layers == {"exact": 1, "near": 1, "miss": 1}
    assert len(model.requests) == 2  # only the miss was sent


def _value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_workers_export_hits_per_layer_and_misses_per_agent():
    before = (_value("reviewer_cache_hits_total", layer="exact", agent="quality"),
              _value("reviewer_cache_hits_total", layer="near", agent="quality"),
              _value("reviewer_cache_misses_total", agent="quality"))
    observe_agent_result({"agent": "quality", "status": "ok", "duration_s": 0.1, "tokens": 10,
                          "cache_hits": 5, "cache_layers": {"exact": 3, "near": 2, "miss": 4}})
    after = (_value("reviewer_cache_hits_total", layer="exact", agent="quality"),
             _value("reviewer_cache_hits_total", layer="near", agent="quality"),
             _value("reviewer_cache_misses_total", agent="quality"))
    assert [b - a for a, b in zip(before, after, strict=True)] == [3, 2, 4]


def test_the_json_output_shows_the_layers_per_agent():
    from reviewer.payloads import AgentResult, AgentStatus

    result = AgentResult(agent="security", status=AgentStatus.OK, cache_hits=2,
                         cache_layers={"exact": 1, "near": 1, "miss": 3})
    doc = render_json([], {"security": result}, None)
    assert doc["agents"]["security"]["cache_layers"] == {"exact": 1, "near": 1, "miss": 3}
