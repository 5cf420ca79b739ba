"""The leaderboard's --quick mode as a smoke test: every row, every column, the three outputs."""

import json

import pytest

from conftest import run_script

COUNT = {"unigram", "kn-3", "kn-4", "kn-5", "mkn-3", "mkn-4", "mkn-5", "mkn-5 (min count 1)"}
ROWS = COUNT | {"numpy-rnn", "classic", "classic-windows-split", "default", "default-learned", "gru", "default-pretrained",
                "mkn-5 (+ extra text)"}
FIELDS = {"name", "vocab", "ce", "open_ce", "cached_ce", "cached_open_ce", "caches", "ppl", "acc", "top5", "unk_share",
          "train_seconds", "tokens_per_second", "peak_rss_mb", "gen_ms_per_word"}


def test_quick_leaderboard(tmp_path, corpus_csv):
    import numpy as np

    from conftest import make_abstract, write_csv

    extra = write_csv(tmp_path / "extra.csv", [make_abstract(np.random.default_rng(9)) for _ in range(20)])
    result = run_script("-m", "bench", "--quick", "--data", str(corpus_csv), "--out", str(tmp_path), "--pretrain", str(extra), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "results.json").read_text())
    rows = written["rows"]
    assert {r["name"] for r in rows} == ROWS
    for r in rows:
        assert set(r) == FIELDS and r["ce"] > 0 and r["cached_ce"] > 0 and 0 <= r["unk_share"] <= 1
        assert (r["gen_ms_per_word"] is None) == (r["name"] in COUNT or r["name"] == "mkn-5 (+ extra text)")
        assert r["peak_rss_mb"] > 0 and r["train_seconds"] is not None  # every row measured in its own process
        # every row, count rows too, alone and with its caches; an open-vocabulary CE above the closed one
        assert r["caches"].startswith("phrase ") and r["open_ce"] > r["ce"] and r["cached_open_ce"] > r["cached_ce"]
    by_name = {r["name"]: r for r in rows}
    assert by_name["kn-3"]["ce"] < by_name["unigram"]["ce"]
    # like-for-like targets, each with a verdict: alone against alone, cached against cached
    targets = written["targets"]
    assert any(t.startswith("default alone ") and " vs mkn-5 alone " in t for t in targets)
    assert any(t.startswith("default with caches ") and " vs mkn-5 with caches " in t for t in targets)
    assert all(t.rstrip(")").endswith(("met", "NOT met")) for t in targets)
    # pre-training judged against the n-gram peer given the same extra text
    assert any(t.startswith("default-pretrained alone ") and " vs mkn-5 (+ extra text) alone " in t for t in targets)
    own = by_name["mkn-5 (min count 1)"]
    assert own["vocab"] > by_name["mkn-5"]["vocab"] and own["unk_share"] < by_name["mkn-5"]["unk_share"]
    table = (tmp_path / "RESULTS.md").read_text()
    assert "| default |" in table and "Vocabulary rule" in table and "## Targets" in table and "Like for like" in table
    assert (tmp_path / "val_ce_vs_time.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_web_load_smoke_run_writes_its_figures(tmp_path, tiny_run, corpus_csv):
    from conftest import GAME_RULES

    result = run_script("-m", "bench.web_load", "--model", str(tiny_run[0]), "--data", str(corpus_csv), "--players", "3", "--seconds", "2",
                        "--generations", "3", "--out", str(tmp_path), "--", "--round-pool", "4", "--round-reuse", "2",
                        "--seed-words", str(GAME_RULES["seed_words"]), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "web_load.json").read_text())
    players, flood, checks = report["players"], report["generations"], report["integrity"]
    assert report["header"]["pool_ready"] == 4 and players["rounds"] > 0 and players["round_ms"]["p95"] > 0
    statuses = dict(players["statuses"])
    assert statuses.pop("round 409", 0) <= 3  # a player who has played every abstract of the tiny game stops
    assert statuses == {"guess 200": players["guesses"], "round 200": players["rounds"]}
    assert checks["abstracts_dealt_twice_to_a_player"] == 0 and "no player dealt an abstract twice | yes" in (tmp_path / "WEB_LOAD.md").read_text()
    assert flood["statuses"] == {"generate 200": 3} and flood["page_requests"] >= 0
    assert checks["rounds_missing"] == checks["guesses_missing_or_different"] == checks["rounds_acknowledged_twice"] == 0
    assert checks["rounds_stored"] == checks["rounds_acknowledged"] and checks["guesses_stored"] == checks["guesses_acknowledged"]
    assert "every acknowledged round and guess stored, none twice | yes" in (tmp_path / "WEB_LOAD.md").read_text()


def test_scale_smoke_run_writes_its_figures(tmp_path, corpus_csv, abstracts):
    result = run_script("-m", "bench.scale", "--data", str(corpus_csv), "--sizes", "40,60,80", "--work", str(tmp_path / "work"),
                        "--out", str(tmp_path), "--train-batches", "2", "--window", "10", "--probes", "8,24", "--eval-windows", "50",
                        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "scale.json").read_text())
    rows, probes = written["rows"], written["memory_probe"]
    assert [(p["mb"], p["pages"]) for p in probes] == [(8, "numpy"), (8, "small"), (24, "numpy"), (24, "small")] * 3
    assert all(p["seconds"] > 0 for p in probes)
    synthetic = 80 - len(abstracts)  # abstracts beyond the real file's are sampled from the shipped model
    assert len(abstracts) > 60 and [(r["size"], r["synthetic"]) for r in rows] == [(40, 0), (60, 0), (80, synthetic)]
    assert [r["prepare"]["documents"] for r in rows] == [40, 60, 80]
    for r in rows:  # the evaluation stage: timed on its first windows, extrapolated to all
        e = r["evaluate"]
        assert e["measured_windows"] <= e["windows"] and e["all_seconds"] >= e["seconds"] > 0 and e["peak_mb"] > 0
    assert "evaluate both splits:" in (tmp_path / "SCALE.md").read_text() and "of an epoch's" in (tmp_path / "SCALE.md").read_text()
    assert rows[0]["prepare"]["tokens"] < rows[1]["prepare"]["tokens"] < rows[2]["prepare"]["tokens"]
    for r in rows:
        assert r["prepare"]["origin"] == "built" and r["cached"]["origin"] == "cache"  # the second preparation reads the cache
        assert set(r["prepare"]["laps"]) >= {"read", "clean+tokenise", "group+split", "vocabulary", "encode+windows", "cache write"}
        assert r["train"]["seconds_per_million_tokens"] > 0 and r["kn"]["test_ce"] > 0
        assert 0 <= r["kn"]["fit_user_seconds"] + r["kn"]["fit_system_seconds"] <= 2 * r["kn"]["fit_seconds"] + 0.05
        assert all(r[stage]["peak_mb"] > 0 for stage in ("prepare", "cached", "train", "kn"))
    table = (tmp_path / "SCALE.md").read_text()
    assert f"| 80 | {synthetic} |" in table and "Log-log slope" in table and "Targets at 80 abstracts" in table
    assert "Processor seconds at 80 abstracts" in table and "- group+split: " in table
    assert "- 24 MB, huge pages advised (numpy's default): " in table and "- 24 MB, not advised (NUMPY_MADVISE_HUGEPAGE=0): " in table
    assert all(set(r["prepare"]["lap_cpu"]) >= {"clean+tokenise", "group+split"} for r in rows)
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reader_protocol_deals_blind_rounds_and_scores_written_guesses(tmp_path, tiny_run, corpus_csv):
    from conftest import GAME_RULES  # the fixture abstracts are short

    out = tmp_path / "rounds"
    rules = [f"--{k.replace('_', '-')}={v}" for k, v in GAME_RULES.items()]
    dealt = run_script("-m", "bench.reader", "deal", "--model", str(tiny_run[0]), "--data", str(corpus_csv), "--out", str(out),
                       "--rounds", "3", "--seed", "4", *rules, timeout=300)
    assert dealt.returncode == 0, dealt.stderr[-2000:]
    rounds_md, key = (out / "rounds.md").read_text(), json.loads((out / "key.json").read_text())
    assert rounds_md.count("## Round") == 3 and "human" not in rounds_md.split("## Round 1")[1]  # no answer in the reader's file
    assert len({r["doc_id"] for r in key["rounds"]}) == 3  # one round per abstract
    form = json.loads((out / "guesses.json").read_text())
    for entry, answer in zip(form, key["rounds"]):
        entry.update(guess=answer["human"], reason="the fluent one", tells=["grammar"])
    form[0]["guess"] = form[0]["guess"] % 3 + 1  # one round lost
    (out / "guesses.json").write_text(json.dumps(form))
    scored = run_script("-m", "bench.reader", "score", "--rounds", str(out), "--label", "t", "--results", str(tmp_path / "r.json"))
    assert scored.returncode == 0, scored.stderr
    session = json.loads((tmp_path / "r.json").read_text())[0]
    assert (session["wins"], session["rounds"], session["tells"]) == (2, 3, {"grammar": 2})
    assert "won 2 of 3" in scored.stdout and "| t (" in (tmp_path / "READER.md").read_text()
    form[1]["reason"] = ""
    (out / "guesses.json").write_text(json.dumps(form))
    refused = run_script("-m", "bench.reader", "score", "--rounds", str(out), "--label", "t", "--results", str(tmp_path / "r.json"))
    assert refused.returncode != 0 and "needs a guess 1-3 and a reason" in refused.stderr


def test_evaluation_speed_smoke_run_writes_its_figures(tmp_path, tiny_run, corpus_csv, abstracts):
    result = run_script("-m", "bench.evaluation", "--data", str(corpus_csv), "--model", str(tiny_run[0]), "--scale", "2",
                        "--work", str(tmp_path / "work"), "--out", str(tmp_path), "--reference-windows", "40", "--train-batches", "2",
                        timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / "evaluation.json").read_text())["rows"]
    assert [r["documents"] for r in rows] == [len(abstracts), 2 * len(abstracts)]
    real, large = rows
    assert all(all(measures.values()) for measures in real["same_as_metrics_json"].values())  # the run's own figures again
    for r in rows:
        e = r["evaluation"]
        assert e["windows_per_second"] > 0 and e["seconds"] > 0 and r["training"]["tokens_per_second"] > 0
        assert all(e["reference"]["same_figures"].values()) and e["reference"]["windows"] == 40
        assert r["share"] == pytest.approx(e["seconds"] / (r["budget_tokens"] / r["training"]["tokens_per_second"]), abs=2e-3)
    assert "| patents file |" in (tmp_path / "EVALUATION.md").read_text()
