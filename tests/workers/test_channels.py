"""Delivery channels against real local servers: an HTTP server for the chat
robot webhook, an SMTP server for email, and ``deliver_message`` end to end
through the service on both backends."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from uuid import UUID, uuid4

import pytest
from aiosmtpd.controller import Controller
from eventsourcing.persistence import IntegrityError

from domain.errors import ConcurrentChange
from domain.events import SYSTEM_ACTOR
from domain.message import Message, message_id
from domain.service import Duban
from tests.integration.county import County, build_county, opened
from workers.channels import (
    ROBOT_TEXT_LIMIT,
    DeliveryOutcome,
    EmailChannel,
    WebhookChannel,
    deliver_message,
    robot_payload,
    sign,
    verify_signature,
)

SECRET = "s3cret-0123456789abcdef"
TITLE = "整改通知：高庙山村·贫困户档案"
BODY = "收入核算表缺少2025年第四季度务工收入。请于2026-03-16前完成整改。"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local servers are reached directly even where a proxy is configured."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# A real HTTP server recording what it receives


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Robot:
    """A chat-robot endpoint: answers from ``answers`` in turn (then 200), after ``delay``."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, bytes]] = field(default_factory=list)
    delay: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def robot() -> Iterator[Robot]:
    state = Robot(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            if state.delay:
                state.release.wait(state.delay)
            status, answer = state.answers.pop(0) if state.answers else (200, b'{"errcode":0,"errmsg":"ok"}')
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/robot/send?key=abc"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# A real SMTP server


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[object] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [email.message_from_bytes(e.original_content, policy=email.policy.default) for e in self.envelopes]


@dataclass
class Smtp:
    port: int
    mailbox: Mailbox

    def channel(self, **options: object) -> EmailChannel:
        return EmailChannel("127.0.0.1", self.port, "督办系统 <duban@mizhi.gov.cn>", timeout=3.0, **options)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp(port, mailbox)
    finally:
        controller.stop()


# Webhook


def test_a_signed_robot_message_reaches_the_webhook(robot: Robot):
    payload = robot_payload(TITLE, BODY, "https://duban.example.cn/findings/1")
    before = int(time.time())

    outcome = WebhookChannel(timeout=2).send(robot.url, SECRET, payload)

    assert outcome == DeliveryOutcome(True, "HTTP 200")
    [request] = robot.requests
    assert request.path == "/robot/send?key=abc"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    timestamp = request.headers["X-Duban-Timestamp"]
    assert before <= int(timestamp) <= int(time.time())
    signature = request.headers["X-Duban-Signature"]
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(SECRET, timestamp, request.body, signature)
    assert verify_signature(SECRET, timestamp, request.body.decode("utf-8"), signature)
    assert not verify_signature("another-secret-0123456789", timestamp, request.body, signature)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), request.body, signature)
    assert not verify_signature(SECRET, timestamp, request.body + b" ", signature)
    # The body is the robot's text message, Chinese as UTF-8 (not \\u escapes).
    assert "整改通知".encode() in request.body and b"\\u" not in request.body
    assert json.loads(request.body.decode("utf-8")) == {
        "msgtype": "text",
        "text": {"content": f"{TITLE}\n{BODY}\nhttps://duban.example.cn/findings/1"},
    }


def test_a_forged_or_stale_signature_is_refused():
    body = '{"msgtype":"text"}'
    header = sign(SECRET, "1767225600", body)
    assert verify_signature(SECRET, "1767225600", body, header, now=1767225600 + 299)
    assert not verify_signature(SECRET, "1767225600", body, header, now=1767225600 + 301)
    assert verify_signature(SECRET, "1767225600", body, header, max_age=None)
    for forged in ("", "sha256=", header.upper(), header[:-1] + "0", "sha1=" + header[7:], "sha256=签名"):
        assert not verify_signature(SECRET, "1767225600", body, forged, max_age=None)
    assert not verify_signature(SECRET, "not-a-number", body, header, max_age=None)


def test_the_robot_payload_keeps_to_the_robots_size_limit():
    link = "https://duban.example.cn/findings/1"
    payload = robot_payload(TITLE, "整改" * 2000, link)
    content = payload["text"]["content"]
    assert len(content.encode("utf-8")) <= ROBOT_TEXT_LIMIT
    assert content.startswith(TITLE) and content.endswith(f"…\n{link}")
    # A body that carries the link already does not get it twice.
    assert robot_payload(TITLE, f"{BODY}\n查看：{link}", link)["text"]["content"].count(link) == 1


def test_an_error_answer_is_a_failed_delivery(robot: Robot):
    robot.answers = [(500, b"boom"), (302, b""), (200, '{"errcode":93000,"errmsg":"invalid webhook url"}'.encode())]
    channel = WebhookChannel(timeout=2)

    assert channel.send(robot.url, SECRET, {"x": 1}) == DeliveryOutcome(False, "HTTP 500 Internal Server Error")
    redirected = channel.send(robot.url, SECRET, {"x": 1})
    assert not redirected.succeeded and redirected.detail.startswith("HTTP 302")
    refused = channel.send(robot.url, SECRET, {"x": 1})
    assert not refused.succeeded and "errcode 93000" in refused.detail
    assert len(robot.requests) == 3  # the redirect was not followed


def test_a_slow_webhook_fails_within_the_timeout(robot: Robot):
    robot.delay = 3.0
    started = time.monotonic()

    outcome = WebhookChannel(timeout=0.5).send(robot.url, SECRET, {"x": 1})

    assert outcome == DeliveryOutcome(False, "连接超时 timeout")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        (f"http://127.0.0.1:{free_port()}/robot", "连接被拒绝 connection refused"),
        ("ftp://example.cn/robot", "机器人地址无效 invalid URL"),
        ("not a url", "机器人地址无效 invalid URL"),
        ("http://127.0.0.1:notaport/", "机器人地址无效 invalid URL"),
        ("http://127.0.0.1:1/机器人", "机器人地址无效 invalid URL"),
    ],
    ids=["refused", "ftp", "no-scheme", "bad-port", "non-ascii-path"],
)
def test_an_unreachable_or_invalid_webhook_is_a_failed_delivery(url: str, detail: str):
    outcome = WebhookChannel(timeout=1).send(url, SECRET, {"x": 1})
    assert outcome == DeliveryOutcome(False, detail)
    assert "127.0.0.1" not in outcome.detail and "example.cn" not in outcome.detail  # never the url


# Email


def test_an_email_arrives_with_chinese_subject_and_body(smtp: Smtp):
    outcome = smtp.channel().send("zhou@mizhi.gov.cn", TITLE, f"{BODY}\n\n——督办系统")

    assert outcome.succeeded, outcome.detail
    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "duban@mizhi.gov.cn"
    assert envelope.rcpt_tos == ["zhou@mizhi.gov.cn"]
    [mail] = smtp.mailbox.messages()
    assert mail["Subject"] == TITLE
    assert mail["To"] == "zhou@mizhi.gov.cn"
    assert mail["From"].addresses[0].display_name == "督办系统"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content() == f"{BODY}\n\n——督办系统\n"
    assert envelope.original_content.isascii()  # encoded for any server


def test_a_refused_recipient_or_a_missing_server_is_a_failed_delivery(smtp: Smtp):
    smtp.mailbox.refuse.add("nobody@mizhi.gov.cn")
    refused = smtp.channel().send("nobody@mizhi.gov.cn", TITLE, BODY)
    assert not refused.succeeded and refused.detail.startswith("收件人被拒绝 recipient refused: 550")

    no_tls = smtp.channel(starttls=True).send("zhou@mizhi.gov.cn", TITLE, BODY)
    assert not no_tls.succeeded and no_tls.detail.startswith("邮件服务器不支持")

    started = time.monotonic()
    dead = EmailChannel("127.0.0.1", free_port(), "duban@mizhi.gov.cn", timeout=1)
    down = dead.send("zhou@mizhi.gov.cn", TITLE, BODY)
    assert down == DeliveryOutcome(False, "连接被拒绝 connection refused")
    assert time.monotonic() - started < 1.5
    assert smtp.mailbox.envelopes == []


def test_the_email_channel_is_configured_from_the_environment():
    assert EmailChannel.from_env({}) is None
    assert EmailChannel.from_env({"DUBAN_SMTP_HOST": " "}) is None
    plain = EmailChannel.from_env({"DUBAN_SMTP_HOST": "mail.mizhi.gov.cn", "DUBAN_SMTP_SENDER": "duban@mizhi.gov.cn"})
    assert plain is not None
    assert (plain.host, plain.port, plain.sender, plain.starttls, plain.username, plain.password) == (
        "mail.mizhi.gov.cn", 25, "duban@mizhi.gov.cn", False, None, None,
    )  # fmt: skip
    secured = EmailChannel.from_env({
        "DUBAN_SMTP_HOST": "smtp.exmail.qq.com", "DUBAN_SMTP_PORT": "587", "DUBAN_SMTP_STARTTLS": "true",
        "DUBAN_SMTP_USER": "duban@mizhi.gov.cn", "DUBAN_SMTP_PASSWORD": "pw-秘密",
    })  # fmt: skip
    assert secured is not None
    assert (secured.port, secured.starttls, secured.sender, secured.password) == (
        587, True, "duban@mizhi.gov.cn", "pw-秘密",
    )  # fmt: skip
    assert "pw-" not in repr(secured)
    ssl_only = EmailChannel.from_env({"DUBAN_SMTP_HOST": "h", "DUBAN_SMTP_SENDER": "a@b.cn", "DUBAN_SMTP_SSL": "1"})
    assert ssl_only is not None and (ssl_only.port, ssl_only.use_ssl) == (465, True)
    with pytest.raises(ValueError, match="DUBAN_SMTP_SENDER"):
        EmailChannel.from_env({"DUBAN_SMTP_HOST": "mail.mizhi.gov.cn"})
    with pytest.raises(ValueError, match="DUBAN_SMTP_PORT"):
        EmailChannel.from_env({"DUBAN_SMTP_HOST": "h", "DUBAN_SMTP_SENDER": "a@b.cn", "DUBAN_SMTP_PORT": "twenty"})


# deliver_message through the service, on both backends


@pytest.fixture
def county(store_env: dict[str, str]) -> Iterator[County]:
    with opened(store_env) as app:
        yield build_county(app)


def notice(county: County, robot: Robot, with_email: bool = True, **overrides: object) -> UUID:
    """A unit with a robot and its cadre with an email get a notice."""
    app = county.app
    app.configure_webhook(county.village_a, robot.url, SECRET, county.command)
    if with_email:
        app.set_email(county.cadre_id, "zhou@mizhi.gov.cn", county.command)
    key = message_id("notice", uuid4(), 1)
    values: dict[str, object] = dict(
        message_id=key, county_id=county.county_id, purpose="notice", title=TITLE, body=BODY,
        unit_ids=(county.village_a,), user_ids=(county.cadre_id,), finding_id=uuid4(),
    )  # fmt: skip
    values.update(overrides)
    app.send_message(**values)
    return key


def attempts(app: Duban, key: UUID) -> list[tuple[str, str, int, bool, str]]:
    return [
        (e.channel, e.recipient, e.attempt, e.succeeded, e.detail)
        for e in app.history(key)
        if isinstance(e, Message.DeliveryAttempted)
    ]


def test_a_message_goes_to_inbox_webhook_and_email_once(county: County, robot: Robot, smtp: Smtp):
    app = county.app
    key = notice(
        county, robot, unit_ids=(county.village_a, county.village_b), user_ids=(county.cadre_id, county.non_cadre_id)
    )
    unit, other_unit = f"unit:{county.village_a}", f"unit:{county.village_b}"
    cadre, clerk = f"user:{county.cadre_id}", f"user:{county.non_cadre_id}"
    finding_id = app.message(key).finding_id

    report = deliver_message(app, key, WebhookChannel(timeout=2), smtp.channel(), "https://duban.example.cn/")

    assert report.failed == []
    assert [(a.channel, a.recipient) for a in report.delivered] == [
        ("inbox", unit), ("webhook", unit), ("inbox", other_unit), ("inbox", cadre), ("email", cadre), ("inbox", clerk),
    ]  # fmt: skip
    assert attempts(app, key) == [
        ("inbox", unit, 1, True, "已进入站内信 in-app inbox"),
        ("webhook", unit, 1, True, "HTTP 200"),
        ("inbox", other_unit, 1, True, "已进入站内信 in-app inbox"),
        ("inbox", cadre, 1, True, "已进入站内信 in-app inbox"),
        ("email", cadre, 1, True, "邮件已投递 accepted by SMTP server"),
        ("inbox", clerk, 1, True, "已进入站内信 in-app inbox"),
    ]
    link = f"https://duban.example.cn/findings/{finding_id}"
    [request] = robot.requests
    assert json.loads(request.body)["text"]["content"] == f"{TITLE}\n{BODY}\n{link}"
    headers = request.headers
    assert verify_signature(SECRET, headers["X-Duban-Timestamp"], request.body, headers["X-Duban-Signature"])
    [mail] = smtp.mailbox.messages()
    assert mail["Subject"] == TITLE and mail["To"] == "zhou@mizhi.gov.cn"
    assert mail.get_content().startswith(f"{BODY}\n\n查看：{link}\n\n")

    # Again (a duplicated or retried job): nothing is sent, nothing recorded.
    position = app.position()
    again = deliver_message(app, key, WebhookChannel(timeout=2), smtp.channel(), "https://duban.example.cn/")
    assert again.delivered == [] and again.failed == [] and len(again.skipped) == 6
    assert app.position() == position
    assert len(robot.requests) == 1 and len(smtp.mailbox.envelopes) == 1


def test_a_retry_resends_only_the_failed_webhook(county: County, robot: Robot, smtp: Smtp):
    app = county.app
    robot.answers = [(500, b"busy")]
    key = notice(county, robot)
    unit, cadre = f"unit:{county.village_a}", f"user:{county.cadre_id}"

    first = deliver_message(app, key, WebhookChannel(timeout=2), smtp.channel())

    failed = [(a.channel, a.recipient, a.detail) for a in first.failed]
    assert failed == [("webhook", unit, "HTTP 500 Internal Server Error")]
    assert {(a.channel, a.recipient) for a in first.delivered} == {("inbox", unit), ("inbox", cadre), ("email", cadre)}
    assert ("webhook", unit, 1, False, "HTTP 500 Internal Server Error") in attempts(app, key)
    assert len(smtp.mailbox.envelopes) == 1  # the failing webhook did not stop the email
    recorded = len(attempts(app, key))

    second = deliver_message(app, key, WebhookChannel(timeout=2), smtp.channel())

    assert second.failed == [] and [(a.channel, a.recipient) for a in second.delivered] == [("webhook", unit)]
    assert attempts(app, key)[recorded:] == [("webhook", unit, 2, True, "HTTP 200")]
    assert len(robot.requests) == 2 and len(smtp.mailbox.envelopes) == 1
    assert app.message(key).was_delivered("webhook", unit)


def test_dead_channels_are_recorded_as_failures_and_the_inboxes_still_count(county: County, robot: Robot):
    app = county.app
    key = notice(county, robot)
    app.configure_webhook(county.village_a, f"http://127.0.0.1:{free_port()}/robot", SECRET, county.command)
    dead_smtp = EmailChannel("127.0.0.1", free_port(), "duban@mizhi.gov.cn", timeout=1)
    unit, cadre = f"unit:{county.village_a}", f"user:{county.cadre_id}"

    report = deliver_message(app, key, WebhookChannel(timeout=1), dead_smtp)

    assert attempts(app, key) == [
        ("inbox", unit, 1, True, "已进入站内信 in-app inbox"),
        ("webhook", unit, 1, False, "连接被拒绝 connection refused"),
        ("inbox", cadre, 1, True, "已进入站内信 in-app inbox"),
        ("email", cadre, 1, False, "连接被拒绝 connection refused"),
    ]
    assert [a.channel for a in report.failed] == ["webhook", "email"]
    # With email off, only the inbox and the webhook are attempted.
    retry = deliver_message(app, key, WebhookChannel(timeout=1), None)
    assert [(a.channel, a.detail) for a in retry.failed] == [("webhook", "连接被拒绝 connection refused")]
    assert attempts(app, key)[-1] == ("webhook", unit, 2, False, "连接被拒绝 connection refused")


def test_a_channel_that_raises_does_not_stop_the_others(county: County, robot: Robot, smtp: Smtp):
    class Broken(WebhookChannel):
        def send(self, url, secret, payload):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug")

    app = county.app
    key = notice(county, robot)

    report = deliver_message(app, key, Broken(), smtp.channel())

    assert [(a.channel, a.detail) for a in report.failed] == [("webhook", "发送失败 send failed: RuntimeError")]
    assert len(smtp.mailbox.envelopes) == 1


class Racing:
    """The service, with another worker saving the same message just before
    this one records (the first ``times`` recordings of one channel)."""

    def __init__(self, app: Duban, other: Duban, channel: str, other_records: str, times: int = 1):
        self._app, self._other, self._channel = app, other, channel
        self._other_records, self._times = other_records, times

    def __getattr__(self, name: str) -> object:
        return getattr(self._app, name)

    def record_delivery(self, key, channel, recipient, succeeded, detail=""):  # type: ignore[no-untyped-def]
        if channel == self._channel and self._times:
            self._times -= 1
            message = self._app.message(key)  # loaded before the other worker saves
            target = recipient if self._other_records == channel else f"unit:{uuid4()}"
            self._other.record_delivery(key, self._other_records, target, True, "other worker")
            message.record_delivery(channel, recipient, succeeded, detail, SYSTEM_ACTOR, self._app.clock())
            try:
                self._app.save(message)
            except IntegrityError as error:
                raise ConcurrentChange() from error
            return None
        return self._app.record_delivery(key, channel, recipient, succeeded, detail)


def test_a_concurrent_worker_is_tolerated(county: County, robot: Robot, smtp: Smtp, store_env: dict[str, str]):
    app = county.app
    key = notice(county, robot)
    cadre = f"user:{county.cadre_id}"
    with opened(store_env, clock=county.clock) as other:
        # Another worker records something else on the message: ours is recorded on top.
        racing = Racing(app, other, "email", "inbox")
        report = deliver_message(racing, key, WebhookChannel(timeout=2), smtp.channel())
        assert racing._times == 0 and [a[4] for a in attempts(app, key)].count("other worker") == 1
        assert report.failed == [] and ("email", cadre) in [(a.channel, a.recipient) for a in report.delivered]
        assert [a[:4] for a in attempts(app, key) if a[0] == "email"] == [("email", cadre, 1, True)]

        # Another worker delivered the very same email first: ours is not recorded twice.
        second = notice(county, robot)
        racing = Racing(app, other, "email", "email")
        report = deliver_message(racing, second, WebhookChannel(timeout=2), smtp.channel())
        assert racing._times == 0
        assert report.failed == []
        assert [a[:4] for a in attempts(app, second) if a[0] == "email"] == [("email", cadre, 1, True)]
        assert attempts(app, second)[-1][4] == "other worker"
