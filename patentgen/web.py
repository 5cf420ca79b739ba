"""The browser game and generator: a FastAPI app over one loaded run.

Owns the HTTP surface: three pages (the game at ``/``, free generation at ``/generate``, the
interactive API page at ``/docs``: Swagger UI, self-hosted under ``/static``, as are the pages'
scripts and styles) and a JSON API (``POST /api/rounds``, ``POST /api/rounds/{id}/guess``,
``POST /api/generate``, ``POST /api/score``, ``GET /api/stats``; the OpenAPI spec at
``/openapi.json`` documents every status with its body). A player is known by the random id its
client keeps and sends as ``X-Player-Id`` (the game page keeps one in ``localStorage``), else by
its address; the player is never dealt an abstract twice, and is told (409) when none is left.
The answer to a round lives only in the results database until it is guessed. Every bad request
gets a 4xx with ``{"error": "..."}``, a storage failure a 503; no response ever carries a
traceback. Its defences (headers, Host names, limits, the generation pool) are in
``patentgen.webguard``; rounds come from ``patentgen.roundpool``. ``serve.py`` runs it.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, Request
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
from .game import AllSeen, Game
from .results import AlreadyAnswered, RoundNotFound, StorageError, Store
from .roundpool import RoundPool
from .webguard import Busy, Guard, Limits, RateLimited, RateLimits, WorkPool

MAX_SEED_CHARS = 2000
MAX_WORDS = 200
MAX_RANDOM_SEED = 2**53 - 1
PLAYER_HEADER = "X-Player-Id"
PLAYER_RULE = "8 to 64 letters, digits, - or _"
STATS_TTL_S = 10.0  # statistics read without a guess in between are this old at most
NO_WORDS = 'text: nothing to score, it has no words; send the text, e.g. {"text": "a neural network is trained"}'
STORAGE_RETRY_S = 30  # Retry-After when the results database cannot be used  # the largest whole number a JSON reader that parses numbers as doubles keeps exact
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


# A text to score needs a word: some character that is not a space, a separator, a quote, an
# apostrophe or hyphen alone, or a control (the cleaning drops those); the server checks the rest
# (a figure reference such as "(12)" is dropped too) by tokenising it.
HAS_WORD = "[^\\s!\"#$%&()*+/:<=>@\\[\\\\\\]^_`{|}~'\\-\u00ab\u00bb\u2018-\u201f\u2032\u2033\\x00-\\x1f\\x7f-\\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"


class ScoreRequest(_Body):
    text: str = Field(min_length=1, max_length=MAX_SEED_CHARS, pattern=HAS_WORD,
                      description="text to score as the start of an abstract; it needs a word")


# ----- response bodies --------------------------------------------------------------------------
class Problem(BaseModel):
    error: str = Field(description="what was wrong, in one line")


class RoundOut(BaseModel):
    id: str
    seed: str
    options: list[str] = Field(min_length=3, max_length=3, description="the human text and two model samples, in random order")
    n_words: int
    left: int = Field(description="abstracts this player has not been dealt yet, after this one")
    abstracts: int = Field(description="abstracts in the game")


class RevealedOption(BaseModel):
    option: int
    text: str
    source: Literal["human", "model"]
    diversity: float | None = Field(description="the model's sampling temperature; null for the human text")


class RevealOut(BaseModel):
    round: str
    choice: int
    correct: bool
    counted: bool = Field(description="whether the statistics count this guess: the player's first on this round, "
                                      "from a player or address not shown this abstract's answer before")
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
    total_logprob: float | None = Field(description="null if a word has probability 0")
    perplexity: float | None = Field(description="null where it is too large to write")


class Proportion(BaseModel):
    count: int
    rate: float
    ci95: list[float] = Field(min_length=2, max_length=2, description="95% interval, allowing for players and rounds counted more than once")


class FoolRate(Proportion):
    shown: int = Field(description="model texts shown in the counted guesses (two a round)")


class Rates(BaseModel):
    setting: dict | None = Field(description="the model, sampler, diversity band and words shown; null: every setting together")
    guesses: int = Field(description="counted guesses")
    rounds: int = Field(description="distinct rounds (texts) among them")
    players: int = Field(description="distinct players among them")
    human_found: Proportion = Field(description="guesses that found the human text (chance 1/3)")
    fool_rate: FoolRate = Field(description="model texts picked as the human one, per model text shown (chance 1/3)")


class You(BaseModel):
    played: int
    found: int
    left: int = Field(description="abstracts not dealt to you yet")


class StatsOut(BaseModel):
    dealt: int = Field(description="rounds dealt")
    guesses: int = Field(description="guesses stored")
    counted: int = Field(description="guesses counted: the first of a player on a round, from one not shown its answer before")
    informed: int = Field(description="guesses kept but not counted: the player or its address had been shown that abstract's answer")
    repeats: int = Field(description="a player's later guesses on a round it had guessed (not counted)")
    players: int = Field(description="distinct players among the counted guesses")
    chance: float
    overall: Rates | None
    settings: list[Rates]
    you: You = Field(description="the asking player's own (by X-Player-Id, else by address)")


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again", "schema": {"type": "integer"}, "required": True}}
ERRORS = {
    400: "the body cannot be read as JSON (UTF-8), a Host header this server does not answer to, or a forwarded address that is none",
    404: "no such round",
    408: "the request body did not arrive in time",
    409: "the round was already answered with another option",
    413: "the request body is too large",
    415: "the body is not application/json",
    422: "the body, a header or a parameter is invalid",
    429: "too many requests from this address",
    500: "an internal error (logged by the server; never shown)",
    503: "the generation queue is full, or the results database cannot be used right now",
}


def _errors(*codes: int | tuple[int, str]) -> dict:
    """The documented error answers: every endpoint's 400, 500 and 503, and ``codes`` (a code, or a code and what it means there)."""
    described = dict(ERRORS)
    described.update(c for c in codes if isinstance(c, tuple))
    wanted = {c[0] if isinstance(c, tuple) else c for c in codes} | {400, 500, 503}
    return {code: {"model": Problem, "description": described[code], **({"headers": RETRY_AFTER} if code in (429, 503) else {})}
            for code in sorted(wanted)}


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return "the request body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",) and first.get("type") in ("model_attributes_type", "dict_type", "model_type"):
        return "the request body must be a JSON object"
    loc = tuple(first.get("loc", ()))
    if loc[:1] == ("header",) and len(loc) > 1 and str(loc[1]).lower() == PLAYER_HEADER.lower():
        return f"the {PLAYER_HEADER} header must be {PLAYER_RULE}; leave it out to be known by your address"
    if loc == ("body", "text") and first.get("type") == "string_pattern_mismatch":
        return NO_WORDS
    where = ".".join(str(part) for part in loc if part != "body")
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
        status = 404 if isinstance(exc, RoundNotFound) else 409 if isinstance(exc, (AlreadyAnswered, AllSeen)) else 400
        return _error(status, str(exc))

    @app.exception_handler(StorageError)
    async def storage_error(_: Request, exc: StorageError):
        return _error(503, str(exc), {"Retry-After": str(STORAGE_RETRY_S)})

    @app.exception_handler(NothingToScore)
    async def nothing_to_score(_: Request, exc: NothingToScore):
        return _error(422, str(exc))

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


def _limited(limits: RateLimits, bucket: str, store: Store):
    async def check(request: Request) -> None:
        limits.check(bucket, address_of(request, store))

    return Depends(check)


def address_of(request: Request, store: Store) -> str:
    """The opaque id of the request's address (the proxy's X-Forwarded-For behind ``--proxy``)."""
    return store.opaque("address " + (request.client.host if request.client else "unknown"))


def player_of(request: Request, player_id: str | None, store: Store) -> str:
    """The opaque id of the player: its X-Player-Id, else its address (plain API clients)."""
    return store.opaque("player " + player_id) if player_id else address_of(request, store)


PlayerId = Annotated[str, Header(alias=PLAYER_HEADER, min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                        description=f"the player: {PLAYER_RULE}, random, kept by the client (the game page keeps one in "
                                                    "localStorage); without it the player is known by its address")]


class _Cached:
    """A value computed again only after ``invalidate`` (a guess) or ``ttl`` seconds (another
    process on the file): pages that only read share one computation."""

    def __init__(self, compute, ttl: float):
        self._compute, self._ttl, self._at, self._value = compute, ttl, -math.inf, None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._at = -math.inf

    def get(self):
        with self._lock:
            if time.monotonic() - self._at >= self._ttl:
                self._at = time.monotonic()  # before computing: a guess meanwhile invalidates it again
                try:
                    self._value = self._compute()
                except BaseException:
                    self._at = -math.inf
                    raise
            return self._value


def create_app(run, play: Game, store: Store, random_seed: int | None = None, limits: Limits = Limits()) -> FastAPI:
    seeds = _Seeds(random_seed)
    model_name = str(run.path)
    work = WorkPool(limits.workers, limits.queue)
    pool = RoundPool(play, store, model_name, limits.round_pool, limits.round_reuse, seeds.rng, busy=lambda: work.pending > 0,
                     keep_days=limits.keep_days)
    stats_now = _Cached(store.stats, STATS_TTL_S)

    @contextlib.asynccontextmanager
    async def lifespan(_):
        pool.start()
        yield
        pool.stop()
        work.shutdown()

    app = FastAPI(title="patentgen", description="Guess which continuation a human wrote; generate and score text.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.round_pool, app.state.work = pool, work
    app.add_middleware(Guard, max_body=limits.max_body, body_timeout=limits.request_timeout, allowed_hosts=limits.allowed_hosts,
                       behind_proxy=limits.behind_proxy)
    _install_error_handlers(app)
    _add_pages(app)
    rates = RateLimits({"rounds": limits.rounds_rate, "guesses": limits.guesses_rate, "generate": limits.generate_rate})
    write = [Depends(json_only)]

    @app.post("/api/rounds", summary="Deal a new round: a seed and three options, the human one not marked; never an abstract this player was dealt",
              response_model=RoundOut, responses=_errors(413, 415, 422, 429, (409, "every abstract was already dealt to this player")),
              dependencies=[*write, _limited(rates, "rounds", store)])
    async def new_round(body: NewRound, request: Request, player_id: PlayerId = None):
        player = player_of(request, player_id, store)
        dealt = await run_in_threadpool(pool.deal, player)  # one transaction
        if dealt is None:  # the pool has none this player has not seen: made now, in the bounded pool (AllSeen: none left)
            if pool.left(await run_in_threadpool(store.seen, player)) == 0:
                raise AllSeen(f"you have played all {len(play.abstracts)} abstracts of this game; there is no unseen one left")
            dealt = await work.run(pool.make, player)
        rnd, left = dealt
        return {**rnd.public(), "left": left, "abstracts": len(play.abstracts)}

    @app.post("/api/rounds/{round_id}/guess", summary="Guess which option a human wrote; reveals the round (the same guess again: the same reveal)",
              response_model=RevealOut, responses=_errors(404, 409, 413, 415, 422, 429), dependencies=[*write, _limited(rates, "guesses", store)])
    async def guess(body: Guess, request: Request, round_id: str = PathParam(max_length=64), player_id: PlayerId = None):
        reveal = await run_in_threadpool(store.guess, round_id, body.option, player_of(request, player_id, store), address_of(request, store))
        stats_now.invalidate()
        return reveal.to_json()

    @app.post("/api/generate", summary="Continue a seed", response_model=GenerateOut, responses=_errors(413, 415, 422, 429),
              dependencies=[*write, _limited(rates, "generate", store)])
    async def generate(body: GenerateRequest):
        sampler = body.sampler()
        seed = strip_controls(body.seed)
        result = await work.run(generation.continue_text, run, seed, body.words, seeds.rng(body.random_seed), sampler)
        return {"seed": seed, "diversity": sampler.temperature, "sampler": sampler.description(), "text": strip_controls(result.text()),
                "continuation": strip_controls(result.text(with_seed=False)), "unknown": [strip_controls(w) for w in result.unknown]}

    @app.post("/api/score", summary="Log-probability of each word of a text", response_model=ScoreOut, responses=_errors(413, 415, 422, 429),
              dependencies=[*write, _limited(rates, "generate", store)])
    async def score(body: ScoreRequest):
        text = strip_controls(body.text)
        if not run.tokenizer.text_to_tokens(text):  # only spaces or punctuation: refused, as generate.py --score refuses it
            raise NothingToScore(NO_WORDS)
        return (await work.run(generation.score_text, run, text)).to_json()

    @app.get("/api/stats", summary="Rounds dealt and guessed; per setting, how often players found the human text and the fool rate, "
             "with 95% intervals; the asking player's own", response_model=StatsOut, responses=_errors(422))
    def stats(request: Request, player_id: PlayerId = None):
        player = player_of(request, player_id, store)
        played, found = store.played(player)
        return {**stats_now.get().to_json(), "you": {"played": played, "found": found, "left": pool.left(store.seen(player))}}

    return app


class NothingToScore(UserError):
    """A text to score without a word (422)."""


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
