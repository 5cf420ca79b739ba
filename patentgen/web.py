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
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator
from starlette.exceptions import HTTPException

from . import generation, sampling, samplerschema
from .corpus import strip_controls
from .errors import UserError
from .game import Game
from .results import AlreadyAnswered, RoundNotFound, Store
from .roundpool import RoundPool
from .webguard import Busy, Guard, Limits, RateLimited, RateLimits, WorkPool, client_id

MAX_SEED_CHARS = 2000
MAX_WORDS = 200
MAX_RANDOM_SEED = 2**53 - 1  # the largest whole number a JSON reader that parses numbers as doubles keeps exact
PAGES = Path(__file__).with_name("pages")
STATIC = PAGES / "static"  # the pages' scripts and styles, the API page's Swagger UI, the icon


# ----- request bodies: strict JSON types (no "7" for 7, no true for 1) ------------------------
def _whole(value):
    """JSON has one number type: 2.0 is the integer 2 (as JSON Schema says); 2.5 is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Int = Annotated[int, BeforeValidator(_whole)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class NewRound(_Body):
    """No options yet: send ``{}``."""


class Guess(_Body):
    option: Int = Field(ge=1, le=3, description="the option the player thinks a human wrote, 1-3")


def _sampler_field(option: samplerschema.SamplerOption):
    """An optional request field for a sampler option: its type and range (in the schema too), its help."""
    kind = Annotated[option.type, Field(**option.bounds())]  # the bounds first: they reach the schema of `X | None`
    if option.type is int:
        kind = Annotated[kind, BeforeValidator(_whole)]
    default = sampling.DEFAULT.get(option.key)
    help = f"{option.help}{'; ' + option.note if option.note else ''}" + (f" (default {default})" if default is not None else "")
    return kind | None, Field(None, description=help)


def _one_strategy() -> dict:
    """At most one strategy (non-null), and none with ``full``, in the JSON schema too, so that clients and fuzzers know it."""
    names = [samplerschema.BY_KEY[k].name for k in samplerschema.STRATEGIES]
    given = lambda name: {name: {"not": {"type": "null"}}}  # noqa: E731
    pairs = [{"required": [a, b], "properties": {**given(a), **given(b)}} for i, a in enumerate(names) for b in names[i + 1:]]
    full = [{"required": [samplerschema.FULL, a], "properties": {samplerschema.FULL: {"const": True}, **given(a)}} for a in names]
    return {"not": {"anyOf": pairs + full}}


class SamplerRequest(create_model("SamplerFields", __base__=_Body, **{o.name: _sampler_field(o) for o in samplerschema.OPTIONS})):
    """The sampler options, built from ``patentgen.samplerschema``: the same as generate.py's flags."""

    model_config = ConfigDict(json_schema_extra=_one_strategy())
    full: bool = Field(False, description=samplerschema.FULL_HELP)

    @model_validator(mode="after")
    def one_strategy(self):
        try:
            samplerschema.resolve(self.sampler_options(), {})
        except UserError as err:
            raise ValueError(str(err)) from None
        return self

    def sampler_options(self) -> dict:
        return self.model_dump(include={o.name for o in samplerschema.OPTIONS} | {samplerschema.FULL})

    def sampler(self) -> sampling.Sampler:
        """Unset options take generate.py's defaults."""
        return sampling.from_description(samplerschema.resolve(self.sampler_options(), sampling.DEFAULT))


class GenerateRequest(SamplerRequest):
    seed: str = Field("", max_length=MAX_SEED_CHARS, description="text to continue (control and bidirectional characters are removed)")
    words: Int = Field(50, ge=1, le=MAX_WORDS, description="words to generate")
    random_seed: Annotated[int, Field(ge=0, le=MAX_RANDOM_SEED), BeforeValidator(_whole)] | None = Field(None, description="makes the output repeatable")


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
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    return strip_controls(f"{where}: {message}" if where else message)  # a rule across fields names its fields itself


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
