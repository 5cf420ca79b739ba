"""The browser game and generator: a FastAPI app over one loaded run.

Owns the HTTP surface: three pages (the game at ``/``, free generation at ``/generate``, the
interactive API page at ``/docs``: Swagger UI, self-hosted under ``/static``, as are the pages'
scripts and styles) and a JSON API (``POST /api/rounds``, ``POST /api/rounds/{id}/guess``,
``POST /api/generate``, ``POST /api/score``, ``GET /api/stats``; the OpenAPI spec at
``/openapi.json`` documents every status with its body). The answer to a round lives only in
the results database until it is guessed. Every bad request gets a 4xx with ``{"error": "..."}``;
no response ever carries a traceback. Its defences (headers, limits, the generation pool) are in
``patentgen.webguard``; rounds come from ``patentgen.roundpool``. ``serve.py`` runs it.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException

from . import generation, sampling
from .corpus import strip_controls
from .errors import UserError
from .game import Game
from .results import AlreadyAnswered, RoundNotFound, Store
from .roundpool import RoundPool
from .webguard import Busy, Guard, Limits, RateLimited, RateLimits, WorkPool, client_id

MAX_SEED_CHARS = 2000
MAX_WORDS = 200
MAX_DIVERSITY = 5.0
PAGES = Path(__file__).with_name("pages")
STATIC = PAGES / "static"  # the pages' scripts and styles, the API page's Swagger UI, the icon


# ----- request bodies: strict JSON types (no "7" for 7, no true for 1) ------------------------
def _whole(value):
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says); 2.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_whole)]
PositiveInt = Annotated[int, Field(ge=1), BeforeValidator(_whole)]  # the bound first: it reaches the schema of `X | None`
STRATEGY_FIELDS = ("top_k", "top_p", "min_p", "typical_p")
# At most one strategy (non-null), in the schema too, so that clients and fuzzers know it.
ONE_STRATEGY = {"not": {"anyOf": [{"required": [a, b], "properties": {a: {"not": {"type": "null"}}, b: {"not": {"type": "null"}}}}
                                  for i, a in enumerate(STRATEGY_FIELDS) for b in STRATEGY_FIELDS[i + 1:]]}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class NewRound(_Body):
    """No options yet: send ``{}``."""


class Guess(_Body):
    option: Int = Field(ge=1, le=3, description="the option the player thinks a human wrote, 1-3")


class GenerateRequest(_Body):
    model_config = ConfigDict(json_schema_extra=ONE_STRATEGY)

    seed: str = Field("", max_length=MAX_SEED_CHARS, description="text to continue (control and bidirectional characters are removed)")
    diversity: float | None = Field(None, ge=0, le=MAX_DIVERSITY, description=f"sampling temperature; 0 is greedy (default {sampling.DEFAULT.get('temperature', 1.0)})")
    words: Int = Field(50, ge=1, le=MAX_WORDS, description="words to generate")
    random_seed: Annotated[int, Field(ge=0), BeforeValidator(_whole)] | None = Field(None, description="makes the output repeatable")
    top_k: PositiveInt | None = Field(None, description="draw only from the K most likely words")
    top_p: float | None = Field(None, gt=0, le=1, description="nucleus sampling: the most likely words up to this probability")
    min_p: float | None = Field(None, gt=0, le=1, description="only words at least this share of the most likely one's probability")
    typical_p: float | None = Field(None, gt=0, le=1, description="locally typical sampling with this probability mass")
    full: bool = Field(False, description="no top-k/top-p/min-p/typical filter: the whole distribution")
    repetition_penalty: float | None = Field(None, ge=1, description="divide the logit of every word already in the text by this; 1 is none")
    no_repeat_ngram: PositiveInt | None = Field(None, description="never repeat an n-gram of this size")
    phrase_cache: float | None = Field(None, ge=0, lt=1, description="share of probability given to continuing a phrase already in the text; 0 is none")
    word_cache: float | None = Field(None, ge=0, lt=1, description="share of probability (at most) given to reusing a word of the text; 0 is none")

    @model_validator(mode="after")
    def one_strategy(self):
        chosen = [name for name in STRATEGY_FIELDS if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError(f"choose one of top-k, top-p, min-p and typical-p, not {' and '.join(c.replace('_', '-') for c in chosen)}")
        return self

    def sampler(self) -> sampling.Sampler:
        """At most one of top_k, top_p, min_p, typical_p (else 422); unset options take generate.py's defaults."""
        given = self.model_dump(include=set(sampling.OPTIONS) | {"full", "diversity"})
        given["temperature"] = given.pop("diversity")
        return sampling.from_description(sampling.with_defaults(given, sampling.DEFAULT))


class ScoreRequest(_Body):
    text: str = Field(min_length=1, max_length=MAX_SEED_CHARS, description="text to score as the start of an abstract")


# ----- response bodies --------------------------------------------------------------------------
class Problem(BaseModel):
    error: str = Field(description="what was wrong, in one line")


class RoundOut(BaseModel):
    id: str
    seed: str
    options: list[str] = Field(min_length=3, max_length=3, description="the human text and two model samples, in random order")
    n_words: int


class RevealedOption(BaseModel):
    option: int
    text: str
    source: Literal["human", "model"]
    diversity: float | None = Field(description="the model's sampling temperature; null for the human text")


class RevealOut(BaseModel):
    round: str
    choice: int
    correct: bool
    human_option: int
    options: list[RevealedOption]


class GenerateOut(BaseModel):
    seed: str
    diversity: float
    sampler: dict[str, int | float] = Field(description="the sampler used, as generate.py describes it")
    text: str
    continuation: str
    unknown: list[str] = Field(description="seed words outside the vocabulary, read as unknown")


class ScoredWord(BaseModel):
    word: str
    logprob: float | None = Field(description="natural log; null for a word of probability 0")


class ScoreOut(BaseModel):
    words: list[ScoredWord]
    total_logprob: float | None = Field(description="null if a word has probability 0; 0 for a text without words")
    perplexity: float | None = Field(description="null where it is too large to write")


class Band(BaseModel):
    band: str
    shown: int
    picked: int
    fool_rate: float | None


class StatsOut(BaseModel):
    rounds: int = Field(description="rounds dealt")
    played: int = Field(description="rounds guessed")
    clients: int = Field(description="distinct clients (addresses) that guessed")
    human_picked: int
    human_rate: float | None
    fool_rate_by_diversity: list[Band]


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}, "required": True}}
ERRORS = {
    400: "the body cannot be read as JSON (UTF-8)",
    404: "no such round",
    409: "the round was already answered with another option",
    413: "the request body is too large",
    415: "the body is not application/json",
    422: "the body or a parameter is invalid",
    429: "too many requests from this client",
    500: "an internal error (logged by the server; never shown)",
    503: "the generation queue is full",
}


def _errors(*codes: int) -> dict:
    return {code: {"model": Problem, "description": ERRORS[code], **({"headers": RETRY_AFTER} if code in (429, 503) else {})}
            for code in (*codes, 500)}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in ("model_attributes_type", "dict_type", "model_type"):
        return "the request body must be a JSON object"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    return strip_controls(f"{where}: {first.get('msg', 'invalid value').removeprefix('Value error, ')}")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException):
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":  # FastAPI's words
            return _error(400, "the request body cannot be read as JSON (UTF-8 expected)")
        return _error(exc.status_code, str(exc.detail), exc.headers)  # keeps Allow on a 405

    @app.exception_handler(UserError)
    async def user_error(_: Request, exc: UserError):
        status = 404 if isinstance(exc, RoundNotFound) else 409 if isinstance(exc, AlreadyAnswered) else 400
        return _error(status, str(exc))

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited):
        return _error(429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(Busy)
    async def busy(_: Request, exc: Busy):
        return _error(503, str(exc), {"Retry-After": str(exc.retry_after)})


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


async def json_only(request: Request) -> None:
    """State-changing requests carry JSON: a form posted from another site gets 415."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise HTTPException(415, f"send the body as application/json, not {media or 'no Content-Type'}")


def _limited(limits: RateLimits, bucket: str, key: bytes):
    async def check(request: Request) -> None:
        limits.check(bucket, client_of(request, key))

    return Depends(check)


def client_of(request: Request, key: bytes) -> str:
    return client_id(request.client.host if request.client else "unknown", key)


def create_app(run, play: Game, store: Store, random_seed: int | None = None, limits: Limits = Limits()) -> FastAPI:
    seeds = _Seeds(random_seed)
    model_name = str(run.path)
    work = WorkPool(limits.workers, limits.queue)
    pool = RoundPool(play, store, model_name, limits.round_pool, limits.round_reuse, seeds.rng, busy=lambda: work.pending > 0)

    @contextlib.asynccontextmanager
    async def lifespan(_):
        pool.start()
        yield
        pool.stop()
        work.shutdown()

    app = FastAPI(title="patentgen", description="Guess which continuation a human wrote; generate and score text.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.round_pool, app.state.work = pool, work
    app.add_middleware(Guard, max_body=limits.max_body)
    _install_error_handlers(app)
    _add_pages(app)
    rates = RateLimits({"rounds": limits.rounds_rate, "guesses": limits.guesses_rate, "generate": limits.generate_rate})
    key = store.client_key()
    write = [Depends(json_only)]

    @app.post("/api/rounds", summary="Deal a new round: a seed and three options, the human one not marked", response_model=RoundOut,
              responses=_errors(400, 413, 415, 422, 429, 503), dependencies=[*write, _limited(rates, "rounds", key)])
    async def new_round(body: NewRound):
        rnd = await run_in_threadpool(pool.deal)  # one transaction
        if rnd is None:  # the pool is empty (just started, or --round-pool 0): made now, in the bounded pool
            rnd = await work.run(play.new_round, seeds.rng())
            await run_in_threadpool(store.add_round, rnd, model_name)
        return rnd.public()

    @app.post("/api/rounds/{round_id}/guess", summary="Guess which option a human wrote; reveals the round (the same guess again: the same reveal)",
              response_model=RevealOut, responses=_errors(400, 404, 409, 413, 415, 422, 429), dependencies=[*write, _limited(rates, "guesses", key)])
    async def guess(body: Guess, request: Request, round_id: str = PathParam(max_length=64)):
        reveal = await run_in_threadpool(store.guess, round_id, body.option, client_of(request, key))
        return reveal.to_json()

    @app.post("/api/generate", summary="Continue a seed", response_model=GenerateOut, responses=_errors(400, 413, 415, 422, 429, 503),
              dependencies=[*write, _limited(rates, "generate", key)])
    async def generate(body: GenerateRequest):
        sampler = body.sampler()
        seed = strip_controls(body.seed)
        result = await work.run(generation.continue_text, run, seed, body.words, seeds.rng(body.random_seed), sampler)
        return {"seed": seed, "diversity": sampler.temperature, "sampler": sampler.description(), "text": strip_controls(result.text()),
                "continuation": strip_controls(result.text(with_seed=False)), "unknown": [strip_controls(w) for w in result.unknown]}

    @app.post("/api/score", summary="Log-probability of each word of a text", response_model=ScoreOut, responses=_errors(400, 413, 415, 422, 429, 503),
              dependencies=[*write, _limited(rates, "generate", key)])
    async def score(body: ScoreRequest):
        return (await work.run(_score, run, strip_controls(body.text))).to_json()

    @app.get("/api/stats", summary="Rounds played, distinct clients, how often players found the human text, fool rate by diversity",
             response_model=StatsOut, responses=_errors())
    def stats():
        return store.stats().to_json()

    return app


def _score(run, text: str) -> sampling.Score:
    """A text without words (e.g. only punctuation marks) has an empty score, not an error."""
    return generation.score_text(run, text) if run.tokenizer.text_to_tokens(text) else sampling.Score([], [])


def _add_pages(app: FastAPI) -> None:
    pages = {name: (PAGES / f"{name}.html").read_text(encoding="utf-8") for name in ("game", "generate", "docs")}  # read once
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def game_page():
        return pages["game"]

    @app.get("/generate", response_class=HTMLResponse, include_in_schema=False)
    async def generate_page():
        return pages["generate"]

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs_page():
        """The interactive API page (Swagger UI over /openapi.json)."""
        return pages["docs"]

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon", headers={"Cache-Control": "max-age=86400"})
