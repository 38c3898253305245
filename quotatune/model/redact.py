"""Take secrets out of text before it is stored, printed or rendered (DESIGN §2).

Pure and standard library only.  :func:`redact` is for free text (log lines, error messages,
hs_err files), :func:`redact_lines` for consecutive log lines (a private key spans several),
:func:`redact_args` for an argv list.  A secret *value* becomes :data:`MARKER`; the key, flag,
user name or token prefix around it stays, so that the operator still sees what was there.

What counts as a secret:

- the value after a key that names one, in ``key=value``, ``key: value``, ``key:value``,
  JSON/dict ``"key": "value"``, ``-Dkey=value``, ``--flag=value`` and ``--flag value`` forms;
- ``Authorization``/``Bearer``/``Basic`` credentials, the password in ``scheme://user:pass@``;
- well-known token shapes anywhere: AWS access key ids, GitHub, GitLab, Slack, Stripe and npm
  tokens, Google API keys, JWTs, PEM and PGP private key blocks;
- passwords on the command lines of a few programs that take them as short options
  (``mysql -pX``, ``redis-cli -a X``, ``sshpass -p X``, ``mongo -p X``, ``curl -u user:X``).

A key names a secret when its last word is one (``db.password``, ``keyStorePassword``,
``api-token``, ``aws_secret_access_key``, ``JSESSIONID``), or is ``id``/``key``/``value``/…
after one (``session_id``), or is one of its whole parts and no later part makes the value a
reference (``SECRET_KEY_BASE``, ``api-token-prod``).  A key whose last word says it *refers* to
a secret is not one: ``--password-file``, ``secret_name``, ``secretKeyRef``, ``token_type``,
``max_tokens``, ``tokens_total`` keep their values, because a file path or a Kubernetes
Secret's name is what the operator needs to see and is not itself the secret.  Values that
are only ``true``, ``false``, ``null``, ``${VARIABLE}`` or a mask (``****``) are kept for the
same reason.

Every pattern is either anchored on a literal or bounded by possessive quantifiers and a
one-character look-behind, and the key/value scan never re-reads a value, so the time is
linear in the length of the text (``benchmarks/bench_redact.py`` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MARKER = "<redacted>"

# -- which keys name a secret ---------------------------------------------------------------
# Found inside a word too ("dbpassword", "apitoken", "jsessionid"); longest first.
_IN_WORD = re.compile(
    "authorization|credentials|credential|passphrase|password|passwd|privatekey|accesskey"
    "|secretkey|sessionid|phpsessid|apikey|secret|token|cookie|session|auth")
_TERMS = frozenset(_IN_WORD.pattern.split("|"))
# Only as a whole word: inside a word they are too often something else ("bypass", "signal").
_WHOLE_WORDS = frozenset({
    "pwd", "pass", "creds", "sig", "signature", "keypass", "storepass", "srckeypass",
    "srcstorepass", "destkeypass", "deststorepass", "requirepass"})
_SECRET_WORDS = _TERMS | _WHOLE_WORDS
_BIGRAMS = frozenset({
    ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"),
    ("account", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"),
    ("shared", "key")})
# After a secret word these still hold the secret ("session_id", "secret_key", "token_value").
_HOLDERS = frozenset({"id", "key", "value", "val", "hash", "data", "b64", "base64", "hex",
                      "string", "str"})
# The shell's working directory, not a password.
_NOT_SECRET_KEYS = frozenset({"PWD", "OLDPWD"})
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
# A whole part of a longer name that still holds the secret after it (SECRET_KEY_BASE).  Not
# "auth", "session" or "cookie": AUTH_URL, XDG_SESSION_TYPE, SESSION_MANAGER name no secret.
_PART_WORDS = frozenset({
    "secret", "token", "password", "passwd", "pwd", "passphrase", "credential", "credentials",
    "apikey", "accesskey", "privatekey", "secretkey"})
# A later part that makes the value about the secret, not the secret (TOKEN_TTL, SECRET_NAME).
_ABOUT = frozenset({
    "file", "path", "dir", "name", "ref", "type", "kind", "url", "uri", "endpoint", "host",
    "port", "length", "len", "min", "max", "count", "total", "size", "bits", "timeout", "ttl",
    "expiry", "expires", "expiration", "lifetime", "age", "days", "seconds", "encryption",
    "algorithm", "alg", "policy", "enabled", "enable", "required", "format", "prefix", "header",
    "version", "arn", "mode", "method", "provider", "issuer", "audience", "reset", "rotation",
    "authentication", "store", "manager", "source", "location", "field", "env", "var", "volume",
    "mount"})


def _words(key: str) -> list[str]:
    """``keyStorePassword`` -> key, store, password; ``dbpassword`` -> db, password."""
    out: list[str] = []
    for camel in _CAMEL.findall(key):
        word, pos = camel.lower(), 0
        for m in _IN_WORD.finditer(word):
            if m.start() > pos:
                out.append(word[pos:m.start()])
            out.append(m.group())
            pos = m.end()
        if pos < len(word):
            out.append(word[pos:])
    return out


def is_secret_key(key: str) -> bool:
    """Whether the value of ``key`` is a secret (see the module docstring)."""
    if key in _NOT_SECRET_KEYS:
        return False
    w = _words(key)
    if not w:
        return False
    last = w[-1]
    if last in _SECRET_WORDS or tuple(w[-2:]) in _BIGRAMS:
        return True
    if last in _HOLDERS:
        head = w[:-1]
        if any(x in _SECRET_WORDS for x in head) or tuple(head[-2:]) in _BIGRAMS:
            return True
    return _holds_secret([p.lower() for p in _CAMEL.findall(key)])


def _holds_secret(parts: list[str]) -> bool:
    """Whole parts, not words found inside one: "author", "tokenizer" hold no secret."""
    hit = -1
    for i, part in enumerate(parts):
        if part in _PART_WORDS or (i and (parts[i - 1], part) in _BIGRAMS):
            hit = i
    return hit >= 0 and not any(p in _ABOUT for p in parts[hit + 1:])


def _kept(value: str) -> bool:
    """Values that are no secret even after a secret key (booleans, references, masks)."""
    v = value.strip()
    # A quoted marker too, or the argv walk would drop the quotes the --flag scan kept.
    return (not v or v.strip("\\\"'") == MARKER
            or v.lower() in ("true", "false", "null", "none", "nil")
            or (v.startswith("${") and v.endswith("}")) or set(v) == {"*"})


# -- key/value pairs --------------------------------------------------------------------------
_KEY = re.compile(r"""
    (?<![\w.\-])                         # a key starts at a boundary: no quadratic re-scan
    (?P<q>\\?["'])?                      # JSON / dict key, also JSON inside a JSON string
    (?:-D|--?)?                          # -Dprop=value, --flag=value
    (?P<key>[A-Za-z_][\w.\-]*+)
    (?(q)\\?["'])
    (?P<sep>[ \t]*+(?:=[ \t]*+|:(?:[ \t]++|(?=["'])|(?<=["']:)|(?P<bare>)(?=[^\s:/]))))
""", re.X)
_QUOTED = r"""\\"(?:[^"\\\n]|\\[^"\n])*+(?:\\")?|"(?:[^"\\\n]|\\.)*+"?|'(?:[^'\\\n]|\\.)*+'?"""
_VALUE_EQ = re.compile(rf"""{_QUOTED}|(?:[^\s&;,"'\\]|\\(?!["']))++""")
# After "key: " at the start of a line (YAML, a header) or of a quoted string (curl -H "…") the
# value is the rest of the line; in the middle of a sentence it is one word, so that
# "failed to fetch anonymous token: unexpected status: 401" keeps most of its meaning.
_VALUE_COLON = re.compile(rf"""{_QUOTED}|[^"'\r\n]++""")
_VALUE_WORD = re.compile(
    rf"""{_QUOTED}|(?i:(?:bearer|basic|digest|token|negotiate|ntlm|bot)[ \t]++)?[^\s,;"']++""")
_VALUE_JSON = re.compile(rf"""{_QUOTED}|[^\s,{{}}\[\]"'\\]++""")  # not an object, list
_LINE_LEAD = re.compile(r"[ \t\-*#<>]*+")  # indentation, a YAML list dash, curl -v "> "
_SCHEMES = ("bearer", "basic", "digest", "token", "negotiate", "ntlm", "bot", "aws4-hmac-sha256")


def _masked(value: str) -> str:
    """``value`` (as matched, quotes included) with its secret part replaced."""
    for q in ('\\"', '"', "'"):
        if value.startswith(q):
            inner = value[len(q):]
            close = q if inner.endswith(q) and len(inner) >= len(q) else ""
            return q + _masked_body(inner[: len(inner) - len(close)]) + close
    body = value.rstrip()
    return _masked_body(body) + value[len(body):]


def _masked_body(body: str) -> str:
    scheme, _, rest = body.partition(" ")
    if rest and scheme.lower() in _SCHEMES:  # Authorization: Bearer <redacted>
        return body if _kept(rest.lstrip()) else f"{scheme} {MARKER}"
    return body if _kept(body) else MARKER


def _line_lead_end(text: str, line: int) -> int:
    lead = _LINE_LEAD.match(text, line)
    return lead.end() if lead else line


def _pairs(text: str) -> str:
    out: list[str] = []
    pos = done = 0
    lead_end = _line_lead_end(text, 0)  # where the leading blanks of the current line end
    seen = 0  # newlines before this were already looked for
    while (m := _KEY.search(text, pos)) is not None:
        pos = m.end()
        if not is_secret_key(m.group("key")):
            continue  # the value may hold a pair of its own (JAVA_OPTS=-Ddb.password=…)
        sep, start = m.group("sep"), m.start()
        if m.group("q") and ":" in sep:
            pattern = _VALUE_JSON
        elif "=" in sep:
            pattern = _VALUE_EQ
        elif m.group("bare") is not None:
            # "password:x" is one word, but "INFO:auth:msg" is a logger's name and
            # "repo/auth:1.2", "//token:pw@" an image tag and a URL's user name.
            if start and text[start - 1] in ":/":
                continue
            pattern = _VALUE_WORD
        else:
            nl = text.rfind("\n", seen, start)  # linear: each stretch is searched once
            seen = start
            if nl >= 0:
                lead_end = _line_lead_end(text, nl + 1)
            at_start = start <= lead_end or text[start - 1] in "\"'"
            pattern = _VALUE_COLON if at_start else _VALUE_WORD
        v = pattern.match(text, pos)
        if v is None:
            continue
        out += [text[done:pos], _masked(v.group())]
        pos = done = v.end()
    return "".join(out) + text[done:] if out else text


# -- credentials in headers and URLs, well-known token shapes -------------------------------
_AUTH_SCHEME = re.compile(
    r"(?<![\w-])(?i:bearer|basic)[ \t]++(?P<cred>[A-Za-z0-9][A-Za-z0-9\-._~+/]*+=*+)")
_IDENT_EQ = re.compile(r"[A-Za-z_][\w.\-]*=")


def _auth_scheme(m: re.Match[str]) -> str:
    cred = m.group("cred")
    follows = m.string[m.end():m.end() + 1]
    if len(cred) < 8 or (cred.isalpha() and cred.islower()):  # prose: "basic authentication"
        return m.group()
    if _IDENT_EQ.fullmatch(cred) and follows.strip() and (
            follows not in "\"'" or cred.islower()):  # key=value, or Bearer realm="…"
        return m.group()
    return m.group()[: m.start("cred") - m.start()] + MARKER


_URL_USERINFO = re.compile(
    r"""(?<![\w+.\-])(?P<head>[A-Za-z][\w+.\-]*+://[^\s:/?#@"'<>]*+:)(?P<pw>[^\s/"'<>]*)@""")


def _userinfo(m: re.Match[str]) -> str:
    return m.group() if _kept(m.group("pw")) else f"{m.group('head')}{MARKER}@"


# (prefix kept, body redacted).  Each starts with a literal, so the scan is linear.
_TOKEN_SHAPES = re.compile(r"""(?<![A-Za-z0-9_\-])(?:
      (?P<aws>AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])
    | (?P<gh>gh[pousr]_)[A-Za-z0-9]{36,}+
    | (?P<ghpat>github_pat_)[A-Za-z0-9_]{22,}+
    | (?P<gl>glpat-)[A-Za-z0-9_\-]{20,}+
    | (?P<slack>xox[abposre]-|xapp-)[A-Za-z0-9\-]{10,}+  # xoxe: refresh, xapp: app-level
    | (?P<google>AIza)[0-9A-Za-z_\-]{35}
    | (?P<stripe>[sr]k_live_)[A-Za-z0-9]{10,}+
    | (?P<npm>npm_)[A-Za-z0-9]{36}
    | (?P<jwt>)eyJ[A-Za-z0-9_\-]{4,}+\.eyJ[A-Za-z0-9_\-]{4,}+\.[A-Za-z0-9_\-]*+
    | (?P<slackhook>https://hooks\.slack\.com/services/)[A-Za-z0-9/]++
)""", re.X)


def _token_shape(m: re.Match[str]) -> str:
    prefix = next((g for g in m.groups() if g is not None), "")
    return prefix + MARKER


# OpenPGP armour ends its private key line in " BLOCK".
_PEM = re.compile(
    r"(?P<begin>-----BEGIN (?:(?!PRIVATE )[A-Z0-9]++ )*+PRIVATE KEY(?: BLOCK)?-----)"
    r"(?:(?!-----END )[\s\S])*+"
    r"(?P<end>-----END (?:(?!PRIVATE )[A-Z0-9]++ )*+PRIVATE KEY(?: BLOCK)?-----)?")


def _pem(m: re.Match[str]) -> str:
    return m.group("begin") + MARKER + (m.group("end") or "")


# -- command lines ----------------------------------------------------------------------------
# A quoted value is one value, spaces and all: "--password 'a b'" must not keep "b'".
_FLAG_VALUE = re.compile(
    rf"(?<!\S)--?(?P<key>[A-Za-z][\w.\-]*+)[ \t]++(?P<val>{_QUOTED}|\S++)")
# Programs that take a password as a short option: (options, attached -pX form, separate
# -p X form; the attached form is of the first option only).
_PROGRAM_OPTIONS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    **dict.fromkeys(("mysql", "mysqldump", "mysqladmin", "mysqlcheck", "mysqlimport",
                     "mysqlshow", "mariadb", "mariadb-dump", "mariadb-admin"),
                    (("-p",), True, False)),  # mysql -p X prompts: X is the database
    "redis-cli": (("-a",), False, True),
    "sshpass": (("-p",), True, True),
    **dict.fromkeys(("mongo", "mongosh", "mongodump", "mongorestore"), (("-p",), False, True)),
    "curl": (("-u", "--user"), True, True),  # user:password
}
_PROGRAM = re.compile(r"(?<![\w-])(?:" + "|".join(
    re.escape(p) for p in sorted(_PROGRAM_OPTIONS, key=len, reverse=True)) + r")(?![\w-])")
_QUOTES = "\"'();"


def _secret_part(program: str, value: str) -> str:
    """``value`` of a password option with the password replaced (curl keeps the user)."""
    trail = value[len(value.rstrip(_QUOTES)):]
    body = value[: len(value) - len(trail)]
    user = ""
    if program == "curl":
        user, colon, body = body.partition(":")
        if not colon:
            return value
        user += ":"
    return value if _kept(body) else user + MARKER + trail


def _walk(tokens: list[str]) -> list[str]:
    """Password options of known programs and ``--secret-flag value`` pairs in a token list."""
    out = list(tokens)
    program = ""
    for i, tok in enumerate(tokens):
        # After the last "=" too: -XX:OnOutOfMemoryError="curl -u user:pw …" runs curl.
        bare = tok.rsplit("=", 1)[-1].strip(_QUOTES).rsplit("/", 1)[-1]
        if bare in _PROGRAM_OPTIONS:
            program = bare
            continue
        nxt = out[i + 1] if i + 1 < len(out) else ""
        opt = _PROGRAM_OPTIONS.get(program)
        if opt and tok in opt[0] and opt[2] and nxt and not nxt.startswith("-"):
            out[i + 1] = _secret_part(program, nxt)
        elif opt and opt[1] and tok.startswith(opt[0][0]) and len(tok) > len(opt[0][0]):
            short = opt[0][0]
            out[i] = short + _secret_part(program, tok[len(short):])
        elif (tok.startswith("-") and "=" not in tok and nxt and not nxt.startswith("-")
              and is_secret_key(tok.lstrip("-")) and not _kept(nxt)):
            out[i + 1] = MARKER
    return out


def _flags(text: str) -> str:
    """``--api-token X`` in text; then the password options of programs named in a line."""
    out: list[str] = []
    pos = done = 0
    while (m := _FLAG_VALUE.search(text, pos)) is not None:
        pos = m.end("key")  # the value may be the next flag
        val = m.group("val")
        if is_secret_key(m.group("key")) and not val.startswith("-"):
            masked = _masked(val)  # quotes stay, as after key=, so the shape still reads
            if masked != val:
                out += [text[done:m.start("val")], masked]
                pos = done = m.end()
    text = "".join(out) + text[done:] if out else text
    if _PROGRAM.search(text) is None:
        return text
    lines = text.splitlines(keepends=True)
    for n, line in enumerate(lines):
        if _PROGRAM.search(line):
            parts = re.split(r"(\s+)", line)  # words at even indexes, spaces between
            words = _walk(parts[0::2])
            parts[0::2] = words
            lines[n] = "".join(parts)
    return "".join(lines)


# -- public API -------------------------------------------------------------------------------

def redact(text: str) -> str:
    """``text`` with every secret value replaced by :data:`MARKER`; idempotent."""
    if not text:
        return text
    text = _PEM.sub(_pem, text)
    text = _URL_USERINFO.sub(_userinfo, text)
    text = _AUTH_SCHEME.sub(_auth_scheme, text)
    text = _pairs(text)
    text = _flags(text)
    return _TOKEN_SHAPES.sub(_token_shape, text)


def redact_lines(lines: Iterable[str]) -> list[str]:
    """Consecutive log lines, redacted; the lines of a private key block are dropped whole,
    also when its BEGIN and END lines are separate log lines."""
    out: list[str] = []
    in_key = False
    for line in lines:
        if in_key:
            end = line.find("-----END ")
            if end < 0:
                out.append(MARKER)
                continue
            in_key = False
            line = (MARKER if end else "") + line[end:]
        red = redact(line)
        m = _PEM.search(red)
        in_key = bool(m and not m.group("end") and m.end() == len(red))
        out.append(red)
    return out


def redact_args(args: Sequence[str]) -> tuple[str, ...]:
    """An argv list, redacted item by item (an item may be a whole shell command) and as a
    list (``["--api-token", "X"]``, ``["mysql", "-pX"]``)."""
    return tuple(_walk([redact(a) for a in args]))
