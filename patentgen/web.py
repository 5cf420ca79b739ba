"""The browser game and generator: a FastAPI app over one loaded run.

Owns the HTTP surface: three pages (the game at ``/``, free generation at ``/generate``, the
interactive API page at ``/docs``: Swagger UI, self-hosted under ``/static``) and a JSON API
(``POST /api/rounds``, ``POST /api/rounds/{id}/guess``, ``POST /api/generate``,
``POST /api/score``, ``GET /api/stats``; the OpenAPI spec is at ``/openapi.json``). The answer to
a round lives only in the results database until it is guessed. Every bad request gets a 4xx
with ``{"error": "..."}``; no response ever carries a traceback. ``serve.py`` runs it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from . import generation, sampling
from .errors import UserError
from .game import Game
from .results import AlreadyAnswered, RoundNotFound, Store

MAX_SEED_CHARS = 2000
MAX_WORDS = 200
MAX_DIVERSITY = 5.0
PAGES = Path(__file__).with_name("pages")
STATIC = PAGES / "static"  # the API page's scripts and styles (Swagger UI, self-hosted) and the icon
# The API page runs only the app's own scripts and styles: Swagger UI is served from /static.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Guess(_Body):
    option: int = Field(ge=1, le=3, description="the option the player thinks a human wrote, 1-3", strict=True)


class GenerateRequest(_Body):
    seed: str = Field("", max_length=MAX_SEED_CHARS, description="text to continue")
    diversity: float | None = Field(None, ge=0, le=MAX_DIVERSITY, description=f"sampling temperature; 0 is greedy (default {sampling.DEFAULT.get('temperature', 1.0)})")
    words: int = Field(50, ge=1, le=MAX_WORDS, description="words to generate")
    random_seed: int | None = Field(None, ge=0, description="makes the output repeatable")
    top_k: int | None = Field(None, ge=1, description="draw only from the K most likely words", strict=True)
    top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling: the most likely words up to this probability", strict=True)
    min_p: float | None = Field(None, gt=0, le=1, description="only words at least this share of the most likely one's probability", strict=True)
    typical_p: float | None = Field(None, gt=0, le=1, description="locally typical sampling with this probability mass", strict=True)
    full: bool = Field(False, description="no top-k/top-p/min-p/typical filter: the whole distribution", strict=True)
    repetition_penalty: float | None = Field(None, ge=1, description="divide the logit of every word already in the text by this; 1 is none", strict=True)
    no_repeat_ngram: int | None = Field(None, ge=1, description="never repeat an n-gram of this size", strict=True)
    phrase_cache: float | None = Field(None, ge=0, lt=1, description="share of probability given to continuing a phrase already in the text; 0 is none", strict=True)
    word_cache: float | None = Field(None, ge=0, lt=1, description="share of probability (at most) given to reusing a word of the text; 0 is none", strict=True)

    def sampler(self) -> sampling.Sampler:
        """At most one of top_k, top_p, min_p, typical_p; unset options take generate.py's defaults."""
        given = self.model_dump(include=set(sampling.OPTIONS) | {"full", "diversity"})
        given["temperature"] = given.pop("diversity")
        return sampling.from_description(sampling.with_defaults(given, sampling.DEFAULT))


class ScoreRequest(_Body):
    text: str = Field(min_length=1, max_length=MAX_SEED_CHARS, description="text to score as the start of an abstract")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in ("model_attributes_type", "dict_type"):
        return "the request body must be a JSON object"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return f"{where}: {first.get('msg', 'invalid value')}"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(UserError)
    async def user_error(_: Request, exc: UserError):
        status = 404 if isinstance(exc, RoundNotFound) else 409 if isinstance(exc, AlreadyAnswered) else 400
        return _error(status, str(exc))

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception):
        return _error(500, f"internal error ({exc.__class__.__name__}); see the server log")


class _Seeds:
    """Independent random generators for concurrent requests, repeatable from one seed."""

    def __init__(self, seed: int | None):
        self._root = np.random.SeedSequence(seed)
        self._lock = threading.Lock()

    def rng(self, seed: int | None = None) -> np.random.Generator:
        if seed is not None:
            return np.random.default_rng(seed)
        with self._lock:
            child = self._root.spawn(1)[0]
        return np.random.default_rng(child)


def create_app(run, play: Game, store: Store, random_seed: int | None = None) -> FastAPI:
    app = FastAPI(title="patentgen", description="Guess which continuation a human wrote; generate and score text.", docs_url=None, redoc_url=None)
    _install_error_handlers(app)
    seeds = _Seeds(random_seed)
    model_name = str(run.path)
    pages = {name: (PAGES / f"{name}.html").read_text(encoding="utf-8") for name in ("game", "generate", "docs")}  # read once
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def game_page():
        return pages["game"]

    @app.get("/generate", response_class=HTMLResponse, include_in_schema=False)
    def generate_page():
        return pages["generate"]

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs_page():
        """The interactive API page (Swagger UI over /openapi.json)."""
        return HTMLResponse(pages["docs"], headers={"Content-Security-Policy": DOCS_CSP})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})

    @app.post("/api/rounds", summary="Deal a new round: a seed and three options, the human one not marked")
    def new_round():
        rnd = play.new_round(seeds.rng())
        store.add_round(rnd, model_name)
        return rnd.public()

    @app.post("/api/rounds/{round_id}/guess", summary="Guess which option a human wrote; reveals the round")
    def guess(round_id: str, body: Guess):
        return store.guess(round_id, body.option).to_json()

    @app.post("/api/generate", summary="Continue a seed")
    def generate(body: GenerateRequest):
        sampler = body.sampler()
        result = generation.continue_text(run, body.seed, body.words, seeds.rng(body.random_seed), sampler)
        return {"seed": body.seed, "diversity": sampler.temperature, "sampler": sampler.description(), "text": result.text(),
                "continuation": result.text(with_seed=False), "unknown": result.unknown}

    @app.post("/api/score", summary="Log-probability of each word of a text")
    def score(body: ScoreRequest):
        return generation.score_text(run, body.text).to_json()

    @app.get("/api/stats", summary="Rounds played, how often players found the human text, fool rate by diversity")
    def stats():
        return store.stats().to_json()

    return app
