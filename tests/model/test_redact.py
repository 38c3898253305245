"""Redaction (DESIGN §2): secrets leak the way real containers leak them, and leave; text that
only looks like it holds a secret (a token count, a secret's file or name, a commit hash)
stays as it was.  Every case reads as: what the container printed -> what quotatune keeps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quotatune.model.redact import MARKER, is_secret_key, redact, redact_args, redact_lines
from tests.conftest import FIXTURES

R = MARKER

LEAKS = [
    # JVM start-up scripts echo their options, system properties and all
    ("Picked up JAVA_TOOL_OPTIONS: -Xmx512m -Ddb.password=hunter2",
     f"Picked up JAVA_TOOL_OPTIONS: -Xmx512m -Ddb.password={R}"),
    ("-Djavax.net.ssl.keyStorePassword=changeit -Djavax.net.ssl.keyStoreType=PKCS12",
     f"-Djavax.net.ssl.keyStorePassword={R} -Djavax.net.ssl.keyStoreType=PKCS12"),
    ("JAVA_OPTS=-Xms256m -Dspring.datasource.password=hunter2 -Dserver.port=8080",
     f"JAVA_OPTS=-Xms256m -Dspring.datasource.password={R} -Dserver.port=8080"),
    ("jvm_args: -Xms64m -Dapp.api-key=k-123 -XX:+UseG1GC",
     f"jvm_args: -Xms64m -Dapp.api-key={R} -XX:+UseG1GC"),
    # logfmt and plain key=value
    ('level=info msg="connecting" token=abc123', f'level=info msg="connecting" token={R}'),
    ('level=warn msg="retry with token=abc123 failed"',
     f'level=warn msg="retry with token={R} failed"'),
    ('level=warn msg="retry" auth_token="abc 123"', f'level=warn msg="retry" auth_token="{R}"'),
    ("spring.datasource.password=hunter2", f"spring.datasource.password={R}"),
    ("db.password = hunter2", f"db.password = {R}"),
    ("MYSQL_ROOT_PASSWORD=root MYSQL_DATABASE=shop",
     f"MYSQL_ROOT_PASSWORD={R} MYSQL_DATABASE=shop"),
    ("PGPASSWORD=s3cret psql -h db", f"PGPASSWORD={R} psql -h db"),
    # a secret word as a whole part of a longer name
    ("SECRET_KEY_BASE=railsleakD2 RAILS_ENV=production",
     f"SECRET_KEY_BASE={R} RAILS_ENV=production"),
    ("GITHUB_TOKEN_READONLY=abc123 CI=true", f"GITHUB_TOKEN_READONLY={R} CI=true"),
    ("exec /app --api-token-prod s3cr3t", f"exec /app --api-token-prod {R}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
     f"aws_secret_access_key = {R}"),
    ("session_id=550e8400-e29b-41d4-a716-446655440000 path=/cart",
     f"session_id={R} path=/cart"),
    ("Connecting with {user=app, password=hunter2}",  # a brace may be part of a password
     f"Connecting with {{user=app, password={R}"),
    # arguments and flags, as printed by entrypoints
    ("exec /usr/bin/agent --api-token=s3cr3t --port=8080",
     f"exec /usr/bin/agent --api-token={R} --port=8080"),
    ("exec /usr/bin/agent --api-token s3cr3t --port 8080",
     f"exec /usr/bin/agent --api-token {R} --port 8080"),
    # a quoted value is one value: no word of it, no closing quote, is left behind
    ('exec /usr/bin/agent --password "quoted leakD3" --port 8080',
     f'exec /usr/bin/agent --password "{R}" --port 8080'),
    ("exec /usr/bin/agent --api-token 'two words' -v", f"exec /usr/bin/agent --api-token '{R}' -v"),
    ('{"cmd": "agent --password \\"quoted leak\\" --port 80"}',
     f'{{"cmd": "agent --password \\"{R}\\" --port 80"}}'),
    ('agent --auth-header "Bearer abc123def456"', f'agent --auth-header "Bearer {R}"'),
    ('mysql --password "quoted leak" shop', f'mysql --password "{R}" shop'),
    ("keytool -importkeystore -srcstorepass changeit -deststorepass changeit2 -v",
     f"keytool -importkeystore -srcstorepass {R} -deststorepass {R} -v"),
    ("redis-server --requirepass s3cret --masterauth s3cret2",
     f"redis-server --requirepass {R} --masterauth {R}"),
    ("mysqladmin ping -h localhost -uroot -proot", f"mysqladmin ping -h localhost -uroot -p{R}"),
    ("sh -c 'mysql -uapp -ps3cret shop < /init.sql'",
     f"sh -c 'mysql -uapp -p{R} shop < /init.sql'"),
    ("redis-cli -a s3cret ping", f"redis-cli -a {R} ping"),
    ("sshpass -p s3cret ssh backup@host", f"sshpass -p {R} ssh backup@host"),
    ("curl -fsS -u elastic:s3cret http://localhost:9200/_cluster/health",
     f"curl -fsS -u elastic:{R} http://localhost:9200/_cluster/health"),
    # HTTP headers, curl -v and -H
    ("curl -sf -H 'Authorization: Bearer 8f1c2d3e4f5a6b7c' http://api/health",
     f"curl -sf -H 'Authorization: Bearer {R}' http://api/health"),
    ("> Authorization: Basic dXNlcjpwYXNzd29yZA==", f"> Authorization: Basic {R}"),
    ("Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", f"Proxy-Authorization: Basic {R}"),
    ("Authorization: token 0123456789abcdef", f"Authorization: token {R}"),
    ("request failed, sent Bearer Zm9vYmFyYmF6MTIz to upstream",
     f"request failed, sent Bearer {R} to upstream"),
    ("Cookie: JSESSIONID=0A1B2C3D4E5F; theme=dark", f"Cookie: {R}"),
    ("< Set-Cookie: session=abc123; Path=/; HttpOnly", f"< Set-Cookie: {R}"),
    ("X-API-Key: 5b2c1e0f9d8a", f"X-API-Key: {R}"),
    # JSON logs, also JSON inside a JSON string, and Python reprs
    ('{"level":"error","msg":"login failed","password":"hunter2","user":"alice"}',
     f'{{"level":"error","msg":"login failed","password":"{R}","user":"alice"}}'),
    ('{"apiKey": 12345, "retries": 3}', f'{{"apiKey": {R}, "retries": 3}}'),
    ('{"msg": "request body {\\"client_secret\\": \\"abc\\"}"}',
     f'{{"msg": "request body {{\\"client_secret\\": \\"{R}\\"}}"}}'),
    ('{"headers": {"authorization": "Bearer abcdefgh123"}}',
     f'{{"headers": {{"authorization": "Bearer {R}"}}}}'),
    ("connect kwargs {'host': 'db', 'password': 'hunter2'}",
     f"connect kwargs {{'host': 'db', 'password': '{R}'}}"),
    # YAML-ish and messages with a colon
    ("password: correct horse battery staple", f"password: {R}"),
    ("  - secret: abc", f"  - secret: {R}"),
    ("login with password: hunter2 from 10.0.0.7", f"login with password: {R} from 10.0.0.7"),
    # no space after the colon: one word is the value
    ("password:colonleakD1", f"password:{R}"),
    ("retrying with password:colonleakD1 in 5s", f"retrying with password:{R} in 5s"),
    ("openssl pkcs12 -passin pass:hunter2 -in cert.p12",
     f"openssl pkcs12 -passin pass:{R} -in cert.p12"),
    ("{user:app, password:hunter2}", f"{{user:app, password:{R}"),  # as after "="
    # URLs, DSNs and connection strings
    ("postgres://user:pw@host/db", f"postgres://user:{R}@host/db"),
    ("connecting to mongodb+srv://admin:S3cr3t@cluster0.example.net/?retryWrites=true",
     f"connecting to mongodb+srv://admin:{R}@cluster0.example.net/?retryWrites=true"),
    ("redis://:s3cret@redis:6379/0", f"redis://:{R}@redis:6379/0"),
    ("amqp://guest:p@ss@rabbit:5672/", f"amqp://guest:{R}@rabbit:5672/"),
    ("GET /callback?code=x&access_token=abc&state=y",
     f"GET /callback?code=x&access_token={R}&state=y"),
    ("Server=db;Database=shop;User Id=sa;Password=Hunter2!;",
     f"Server=db;Database=shop;User Id=sa;Password={R};"),
    ("DefaultEndpointsProtocol=https;AccountName=shop;AccountKey=abc+def/gh==;EndpointSuffix=x",
     f"DefaultEndpointsProtocol=https;AccountName=shop;AccountKey={R};EndpointSuffix=x"),
    # well-known token shapes, wherever they are
    ("using credentials AKIAIOSFODNN7EXAMPLE from the environment",
     f"using credentials AKIA{R} from the environment"),
    ("git clone https://ghp_1234567890abcdefghijklmnopqrstuvwxyzAB@github.com/org/repo",
     f"git clone https://ghp_{R}@github.com/org/repo"),
    ("remote: ghs_abcdefghijklmnopqrstuvwxyz0123456789 is not valid",
     f"remote: ghs_{R} is not valid"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz rejected",
     f"pat github_pat_{R} rejected"),
    ("PRIVATE-TOKEN glpat-abcdefghij0123456789", f"PRIVATE-TOKEN glpat-{R}"),
    ("posting to Slack as xoxb-123456789012-abcdefghijkl",
     f"posting to Slack as xoxb-{R}"),
    ("maps key AIzaSyA1234567890abcdefghijklmnopqrstuv in use", f"maps key AIza{R} in use"),
    ("GET /maps/api/geocode/json?address=x&key=AIzaSyD-leakD4_abcdefghijklmnopqrstuvwx",
     f"GET /maps/api/geocode/json?address=x&key=AIza{R}"),
    ("exec /app --maps-key AIzaSyD-leakD4_abcdefghijklmnopqrstuvwx",
     f"exec /app --maps-key AIza{R}"),
    ("temporary credentials ASIAY34FZKBOKMUTVV7A expire at 12:00",
     f"temporary credentials ASIA{R} expire at 12:00"),
    ("oauth gho_abcdefghijklmnopqrstuvwxyz0123456789 ok", f"oauth gho_{R} ok"),
    ("refreshing xoxe-1-abcdefghijklmnop and xapp-1-A0123456789-abcdef",
     f"refreshing xoxe-{R} and xapp-{R}"),
    ("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
     "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
     f"id {R} ok"),
    ("//registry.npmjs.org/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789",
     f"//registry.npmjs.org/:_authToken={R}"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn\n"
     "-----END RSA PRIVATE KEY-----",
     f"-----BEGIN RSA PRIVATE KEY-----{R}-----END RSA PRIVATE KEY-----"),
    ('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n'
     '-----END PRIVATE KEY-----\\n"}',
     f'{{"private_key": "{R}"}}'),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0dpXkBCADH\n=Xq1f\n"
     "-----END PGP PRIVATE KEY BLOCK-----",
     f"-----BEGIN PGP PRIVATE KEY BLOCK-----{R}-----END PGP PRIVATE KEY BLOCK-----"),
]


@pytest.mark.parametrize(("leaked", "kept"), LEAKS, ids=[c[0][:40] for c in LEAKS])
def test_a_realistic_leak_keeps_its_key_and_loses_its_secret(leaked, kept):
    assert redact(leaked) == kept


NEAR_MISSES = [
    "tokens_total=5 max_tokens=100 prompt_tokens: 12 token_count=7",
    "--password-file=/run/secrets/db "
    "--token-file=/var/run/secrets/kubernetes.io/serviceaccount/token",
    "exec /usr/bin/agent --password-file /run/secrets/db --verbose",
    # a reference to a secret (its file, its Kubernetes name, its key) is not the secret
    "secret_name=db-creds secretName: db-creds",
    "valueFrom: {secretKeyRef: {name: db, key: password}}",
    "author=alice authority=login.example.com sessions_active=3 keyStoreType=PKCS12",
    "password reset requested for alice",
    "Password:",
    "token_type=Bearer expires_in=3600 session_timeout=30m password_min_length=12",
    "postgres -c password_encryption=scram-sha-256",
    "enable_auth=true password=${DB_PASSWORD} token=null api_key=***",
    "auth_url=https://keycloak.example.com/auth/realms/shop",
    "PWD=/app OLDPWD=/",
    # a secret word that is only letters of a longer part, or a part followed by what the
    # value is about; "auth" and "session" start names of settings too often to count
    "author_name=alice KEYBOARD_LAYOUT=us TOKENIZER_MODEL=bert PASSWORDLESS_LOGIN=email",
    "TOKEN_TTL=3600 PASSWORD_MIN_LENGTH=12 PRIVATE_KEY_PATH=/etc/tls/key.pem SECRET_NAME=db",
    "AUTH_URL=https://sso.example.com AUTH_TYPE=oidc XDG_SESSION_TYPE=x11",
    "SESSION_MANAGER=local/host:@/tmp/.ICE-unix/1234",
    "commit 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 request 550e8400-e29b-41d4-a716-446655440000",
    "pulled registry.example.com/shop/web"
    "@sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4",
    "docker run -p 8080:80 web; ssh -p 22 backup@host; mysql -p shop",
    "basic authentication failed; Bearer token required",
    'WWW-Authenticate: Bearer realm="api", error="invalid_token"',
    'MountVolume.SetUp failed for volume "secret-volume" : secret "app-tls" not found',
    "Picked up JAVA_TOOL_OPTIONS: -Xmx512m -XX:+UseG1GC -XX:MaxRAMPercentage=75",
    'agent --password "${DB_PASSWORD}" --token "" --password-file "/run/secrets/db pw"',
    'agent --password "<redacted>" --api-token \'<redacted>\'',  # already redacted
    "jdbc:mysql://db:3306/shop https://deploy@git.example.com/org/repo",
    # a colon glued to a secret word that is no key: a logger, an image tag, a C++ scope
    "WARNING:auth:login failed for alice; started 10:30:07",
    "Pulling image registry.example.com/shop/auth:1.4.2",
    "Auth::Token::refresh raised", "Password:", "token:",
    '"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}',
    "There is insufficient memory for the Java Runtime Environment to continue.",
    # token-shaped but not a token: too short, the wrong case, a public key
    "AIzaShort AKIAlowercase0123456 ghp_short xoxb-123 eyJhbGciOiJIUzI1NiJ9",
    "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQENBF0dpXkBCADH\n-----END PGP PUBLIC KEY BLOCK-----",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_near_miss_survives_unchanged(text):
    assert redact(text) == text


@pytest.mark.parametrize("path", sorted(
    p for d in ("kubernetes", "forensics", "capacity") for p in (FIXTURES / d).iterdir()
    if p.suffix in (".json", ".log") or p.name == "issue_quoted_snippets.txt"),
    ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_payloads_without_secrets_pass_unchanged(path):
    # Pod specs name Secrets ("secret": {"secretName": …}), project service-account tokens
    # and mount /var/run/secrets; hs_err files list flags and environment variables.
    text = path.read_text()
    assert redact(text) == text


def test_the_real_docker_inspect_loses_only_the_secret_environment_value():
    text = (FIXTURES / "docker" / "dockerd_20_10_inspect_compose_web.json").read_text()
    assert "s3cr3t-value" in text
    out = redact(text)
    assert "s3cr3t-value" not in out and f'"DB_PASSWORD={R}"' in out
    assert out.replace(f"DB_PASSWORD={R}", "DB_PASSWORD=s3cr3t-value") == text


ARGS = [
    (["/app/server", "--api-token", "s3cr3t", "--port", "8080"],
     ("/app/server", "--api-token", R, "--port", "8080")),
    (["java", "-Ddb.password=hunter2", "-jar", "app.jar"],
     ("java", f"-Ddb.password={R}", "-jar", "app.jar")),
    (["mysql", "-uroot", "-phunter2"], ("mysql", "-uroot", f"-p{R}")),
    (["/usr/bin/redis-cli", "-a", "s3cret", "ping"], ("/usr/bin/redis-cli", "-a", R, "ping")),
    (["sh", "-c", "mysqladmin ping -uroot -p$MYSQL_ROOT_PASSWORD"],
     ("sh", "-c", f"mysqladmin ping -uroot -p{R}")),
    (["curl", "-H", "Authorization: Bearer abc12345678", "http://x"],
     ("curl", "-H", f"Authorization: Bearer {R}", "http://x")),
    (["curl", "--user", "admin:s3cret", "http://x"], ("curl", "--user", f"admin:{R}", "http://x")),
    (["--db-url=postgres://app:pw@db/shop"], (f"--db-url=postgres://app:{R}@db/shop",)),
    (["sh", "-c", 'agent --password "quoted leakD3" --port 80'],
     ("sh", "-c", f'agent --password "{R}" --port 80')),
    (["agent", "--password", "quoted leakD3"], ("agent", "--password", R)),
]


@pytest.mark.parametrize(("args", "kept"), ARGS, ids=[" ".join(a[0])[:40] for a in ARGS])
def test_argv_lists_lose_their_secrets(args, kept):
    assert redact_args(args) == kept


@pytest.mark.parametrize("args", [
    ["mysql", "-p", "shop"],  # -p with a space prompts; "shop" is the database
    ["/bin/app", "-p", "8080", "--token-file", "/run/secrets/t"],
    ["app", "--password", "--verbose"],  # a flag, not a value, follows
    ["app", "--password-file=/run/secrets/db", "--max-tokens", "100"],
])
def test_argv_near_misses_survive(args):
    assert redact_args(args) == tuple(args)


def test_a_private_key_logged_line_by_line_is_dropped_whole():
    lines = ["loading key", "-----BEGIN EC PRIVATE KEY-----", "MHcCAQEEIBkg4LVWM9nuwNSk",
             "3Dq6rJhS7zJvsMfs6v8s==", "-----END EC PRIVATE KEY-----", "token=abc ready"]
    assert redact_lines(lines) == [
        "loading key", f"-----BEGIN EC PRIVATE KEY-----{R}", R, R,
        "-----END EC PRIVATE KEY-----", f"token={R} ready"]


@pytest.mark.parametrize(("key", "secret"), [
    ("password", True), ("db.password", True), ("keyStorePassword", True), ("PGPASSWORD", True),
    ("api-token", True), ("apiKey", True), ("x-api-key", True), ("AWS_SECRET_ACCESS_KEY", True),
    ("AWS_ACCESS_KEY_ID", True), ("session_id", True), ("JSESSIONID", True), ("Set-Cookie", True),
    ("client_secret", True), ("MYSQL_PWD", True), ("credentials", True), ("private_key", True),
    ("tokens_total", False), ("max_tokens", False), ("password-file", False),
    ("secret_name", False), ("secretKeyRef", False), ("author", False), ("authority", False),
    ("sessions_active", False), ("keyStoreType", False), ("token_type", False), ("PWD", False),
    ("passport", False), ("bypass", False), ("signal", False), ("tokenizer", False),
    ("SECRET_KEY_BASE", True), ("api-token-prod", True), ("DB_PASSWORD_SALT", True),
    ("slackTokenLegacy", True), ("credentials-json", True), ("PRIVATE_KEY_PEM", True),
    ("AUTH_HEADER", False), ("AUTH_METHOD", False), ("author_name", False),
    ("keyboard_layout", False), ("TOKENIZER_MODEL", False), ("PASSWORDLESS_LOGIN", False),
    ("TOKEN_TTL", False), ("PRIVATE_KEY_PATH", False), ("API_KEY_HEADER", False),
    ("secret-volume", False),
])
def test_which_keys_name_a_secret(key, secret):
    assert is_secret_key(key) is secret


# -- properties ---------------------------------------------------------------------------------
# No per-example deadline on a shared, loaded machine, except where the deadline is the point.
relaxed = settings(deadline=None)

# Pieces that real log lines are made of, the structural characters the patterns look at, and
# secret-looking keys, so that random text often comes close to (or is) a leak.
PIECES = st.sampled_from([
    "password", "token", "api_key", "Authorization", "Bearer ", "Basic ", "-D", "--", "-p",
    "mysql ", "curl -u ", "=", ": ", ":", '"', "'", "\\\"", "{", "}", ",", ";", "&", " ", "\n",
    "://", "@", "user", "eyJhbGciOiJIUzI1NiJ9", ".", "AKIA", "ghp_", "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----", "abc123", "hunter2", "${X}", "true", R, "<", ">", "tokens_total",
])
TEXT = st.one_of(st.text(max_size=200), st.lists(
    st.one_of(PIECES, st.text(max_size=5)), max_size=60).map("".join))


@relaxed
@given(TEXT)
def test_redaction_is_idempotent(text):
    once = redact(text)
    assert redact(once) == once


@relaxed
@given(st.lists(st.text(max_size=30), max_size=8))
def test_argv_redaction_keeps_the_shape_of_the_list_and_is_idempotent(args):
    once = redact_args(args)
    assert len(once) == len(args) and redact_args(once) == once


HARMLESS = st.sampled_from([
    "tokens_total=5", "max_tokens=100", "--password-file=/run/secrets/db", "secret_name=db-creds",
    "author=alice", "sessions_active=3", "keyStoreType=PKCS12", "password reset requested",
    "level=info", 'msg="started"', "pod=web-7d4b9c8f6d-x2k9p", "image@sha256:a3ed95caeb02ffe6",
    "550e8400-e29b-41d4-a716-446655440000", "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "-Xmx512m", "-XX:+UseG1GC", "exit code 137", "OOMKilled", "https://example.com/a?b=c",
    "user=bob", "port: 8080", "expires_in=3600", "Bearer token required",
])


@relaxed
@given(st.lists(st.tuples(HARMLESS, st.sampled_from([" ", "\n", ", ", "\t"])), max_size=30))
def test_text_without_a_secret_is_never_changed(parts):
    text = "".join(p + sep for p, sep in parts)
    assert redact(text) == text


SECRET = st.text(alphabet="abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789+/_.!#%",
                 min_size=6, max_size=40).map(lambda s: "Zq9" + s)
IN_TEXT = st.sampled_from([
    "password={s}", "-Ddb.password={s}", "token: {s}", '{{"client_secret": "{s}"}}',
    "Authorization: Bearer {s}", "postgres://app:{s}@db/shop", "api_key='{s}'",
    "X-Auth-Token: {s}"])
IN_ARGV = st.sampled_from([
    "--api-token={s}", "--api-token {s}", "sshpass -p {s} ssh host", "mysql -u app -p{s}",
    "curl -u admin:{s} http://x", "keytool -storepass {s}"])


@relaxed
@given(st.one_of(IN_TEXT, IN_ARGV), SECRET, HARMLESS, HARMLESS)
def test_a_planted_secret_never_survives_in_text(form, secret, before, after):
    if "://" in form:  # a valid URL has a slash in its password percent-encoded
        secret = secret.replace("/", "%2F")
    assert secret not in redact(f"{before} {form.format(s=secret)} {after}")


@relaxed
@given(IN_ARGV, SECRET, HARMLESS, HARMLESS)
def test_a_planted_secret_never_survives_in_argv(form, secret, before, after):
    args = [before, *form.format(s=secret).split(" "), after]
    assert all(secret not in a for a in redact_args(args))


# Long texts of the pieces the patterns backtrack on: each finishes well inside the deadline
# (an exponential or quadratic pattern would not); bench_redact.py measures the speed itself.
@settings(deadline=2000, max_examples=30)
@given(PIECES, st.integers(min_value=1_000, max_value=4_000))
def test_long_runs_of_any_piece_finish(piece, repeat):
    text = piece * repeat
    assert len(redact(text)) <= len(text) + len(R) * text.count(piece)
