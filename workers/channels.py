"""Delivery channels (送达渠道): the in-app inbox, a unit's chat-group robot
(HTTP webhook) and email over SMTP, and ``deliver_message``, which sends one
message on every channel it is due on and records every attempt as a
``Message.DeliveryAttempted`` event.

A channel never raises for a delivery problem: it answers a
``DeliveryOutcome`` whose detail (short, Chinese then English) goes into the
event, so the delivery log tells a clerk what happened. Details never contain
a webhook url (robot urls carry their key) nor a secret.

The webhook request:

* ``POST`` of the JSON payload, UTF-8, not ASCII-escaped;
* ``Content-Type: application/json; charset=utf-8``;
* ``X-Duban-Timestamp``: unix seconds;
* ``X-Duban-Signature``: ``sha256=`` + hex HMAC-SHA256 of ``f"{timestamp}.{body}"``
  with the unit's secret (``verify_signature`` checks it on the receiving side).

Any 2xx answer is a delivery, except a JSON answer carrying a non-zero
``errcode``: that is how chat robots (企业微信, 钉钉) refuse a message while
answering HTTP 200. Redirects are not followed (a POST must not silently turn
into a GET elsewhere). Timeouts apply to connecting and to each read.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import partial
from typing import Any
from uuid import UUID

from domain.errors import ConcurrentChange, DomainError, UnknownUnit, UnknownUser
from domain.message import AlreadyDelivered, Message

log = logging.getLogger("duban.channels")

#: What chat robots accept in one text message (企业微信: 2048 bytes of UTF-8).
ROBOT_TEXT_LIMIT = 2048
#: How much of a webhook's answer is read (enough for a robot's errcode).
ANSWER_LIMIT = 64 * 1024
#: A signature older (or newer) than this is refused by ``verify_signature``.
SIGNATURE_MAX_AGE = 300.0
#: Detail texts are kept short; the domain keeps at most 500 characters.
DETAIL_LIMIT = 200

EMAIL_FOOTER = "——\n本邮件由督办系统自动发送，请勿直接回复。"
INBOX_DETAIL = "已进入站内信 in-app inbox"


@dataclass(frozen=True)
class DeliveryOutcome:
    succeeded: bool
    detail: str


def _detail(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _network_detail(error: BaseException | str | None) -> str:
    """A network failure in a clerk's words (then the engineer's)."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError
        return "连接超时 timeout"
    if isinstance(error, ConnectionRefusedError):
        return "连接被拒绝 connection refused"
    if isinstance(error, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "连接被对方断开 connection reset"
    if isinstance(error, socket.gaierror):
        return "域名解析失败 DNS lookup failed"
    if isinstance(error, ssl.SSLCertVerificationError):
        return "证书校验失败 certificate verify failed"
    if isinstance(error, ssl.SSLError):
        return _detail(f"TLS 错误 TLS error: {error.reason or type(error).__name__}")
    if isinstance(error, OSError):
        return _detail(f"网络错误 network error: {error.strerror or type(error).__name__}")
    if isinstance(error, str):
        return _detail(f"网络错误 network error: {error}")
    return _detail(f"网络错误 network error: {type(error).__name__}")


# Webhook (工作群机器人)


def sign(secret: str, timestamp: str, body: str | bytes) -> str:
    """The ``X-Duban-Signature`` header value for a body sent at ``timestamp``."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: str | bytes,
    header: str,
    *,
    max_age: float | None = SIGNATURE_MAX_AGE,
    now: float | None = None,
) -> bool:
    """Whether ``header`` signs ``body`` sent at ``timestamp`` with ``secret``
    (compared in constant time). A timestamp more than ``max_age`` seconds away
    from ``now`` is refused too, so a captured request cannot be replayed later;
    ``max_age=None`` checks the signature only."""
    try:
        sent_at = int(timestamp)
        expected = sign(secret, str(sent_at), body).encode("ascii")
        given = header.strip().encode("ascii")
    except (ValueError, UnicodeError, AttributeError, TypeError):
        return False
    if not hmac.compare_digest(expected, given):
        return False
    if max_age is not None:
        current = time.time() if now is None else now
        if abs(current - sent_at) > max_age:
            return False
    return True


def robot_payload(title: str, body: str, link: str = "") -> dict[str, Any]:
    """The text message chat robots accept: title, body and link (if the body
    does not carry it already), within the robots' size limit."""
    head = title.strip()
    tail = f"\n{link}" if link and link not in body else ""
    text = "\n".join(part for part in (head, body.strip()) if part)
    if len((text + tail).encode("utf-8")) > ROBOT_TEXT_LIMIT:
        room = ROBOT_TEXT_LIMIT - len(tail.encode("utf-8")) - len("…".encode("utf-8"))
        text = text.encode("utf-8")[: max(room, 0)].decode("utf-8", "ignore") + "…"
    return {"msgtype": "text", "text": {"content": text + tail}}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # the 3xx answer becomes an HTTPError: a failed delivery


class WebhookChannel:
    """Posts a signed JSON payload to a unit's robot url."""

    def __init__(self, timeout: float = 5.0):
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirects())

    def send(self, url: str, secret: str, payload: dict[str, Any]) -> DeliveryOutcome:
        try:
            return self._send(url, secret, payload)
        except Exception as error:  # a delivery problem is an outcome, whatever it is
            log.warning("webhook: unexpected %r", error)
            return DeliveryOutcome(False, _detail(f"发送失败 send failed: {type(error).__name__}"))

    def _send(self, url: str, secret: str, payload: dict[str, Any]) -> DeliveryOutcome:
        try:
            parts = urllib.parse.urlsplit(url.strip())
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            return DeliveryOutcome(False, "机器人地址无效 invalid URL")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return DeliveryOutcome(False, "机器人地址无效 invalid URL")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            url.strip(),
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Duban-Webhook/1",
                "X-Duban-Timestamp": timestamp,
                "X-Duban-Signature": sign(secret, timestamp, body),
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status = response.status
                answer = response.read(ANSWER_LIMIT)
        except urllib.error.HTTPError as error:
            error.close()
            return DeliveryOutcome(False, _detail(f"HTTP {error.code} {error.reason or ''}"))
        except (urllib.error.URLError, OSError) as error:
            return DeliveryOutcome(False, _network_detail(error))
        except (ValueError, http.client.InvalidURL):  # a bad port, a non-ASCII path, control characters
            return DeliveryOutcome(False, "机器人地址无效 invalid URL")
        except http.client.HTTPException as error:
            return DeliveryOutcome(False, _detail(f"对方应答无效 bad response: {type(error).__name__}"))
        if not 200 <= status < 300:
            return DeliveryOutcome(False, f"HTTP {status}")
        refused = _robot_refusal(answer)
        if refused:
            return DeliveryOutcome(False, refused)
        return DeliveryOutcome(True, f"HTTP {status}")


def _robot_refusal(answer: bytes) -> str:
    """A robot's 200 answer that refuses the message (``{"errcode": 93000, ...}``)."""
    try:
        data = json.loads(answer.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(data, dict):
        return ""
    code = data.get("errcode")
    if code in (None, 0, "0"):
        return ""
    return _detail(f"机器人拒收 robot refused: errcode {code} {data.get('errmsg', '')}")


# Email (电子邮件)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "y", "yes", "t", "true", "on")


class EmailChannel:
    """Sends plain-text UTF-8 email through one SMTP server."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout: float = 10.0,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        use_ssl: bool = False,
    ):
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.starttls = starttls
        self.username = username
        self.password = password
        self.use_ssl = use_ssl

    def __repr__(self) -> str:  # never the password
        return (
            f"EmailChannel({self.host!r}, {self.port}, {self.sender!r}, "
            f"starttls={self.starttls}, ssl={self.use_ssl})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EmailChannel | None:
        """The channel configured by ``DUBAN_SMTP_*``, or None (email off) when
        no host is set. A host without a sender is a configuration error."""
        env = os.environ if env is None else env
        host = env.get("DUBAN_SMTP_HOST", "").strip()
        if not host:
            return None
        use_ssl = _flag(env.get("DUBAN_SMTP_SSL"))
        port_text = env.get("DUBAN_SMTP_PORT", "").strip() or ("465" if use_ssl else "25")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"DUBAN_SMTP_PORT must be a number, not {port_text!r}") from None
        username = env.get("DUBAN_SMTP_USER", "").strip() or None
        sender = env.get("DUBAN_SMTP_SENDER", "").strip() or (username if username and "@" in username else "")
        if not sender:
            raise ValueError("DUBAN_SMTP_SENDER is required when DUBAN_SMTP_HOST is set")
        starttls = _flag(env.get("DUBAN_SMTP_STARTTLS"))
        if username and not (starttls or use_ssl):
            log.warning("DUBAN_SMTP_USER without DUBAN_SMTP_STARTTLS or DUBAN_SMTP_SSL: password sent unencrypted")
        return cls(
            host,
            port,
            sender,
            starttls=starttls,
            username=username,
            password=env.get("DUBAN_SMTP_PASSWORD") or None,
            use_ssl=use_ssl,
        )

    def compose(self, to: str, subject: str, body: str) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Subject"] = " ".join(subject.split())  # a header is one line
        mail["Date"] = formatdate(localtime=True)
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(domain=domain)
        # base64: survives any server, with or without 8BITMIME.
        mail.set_content(body, charset="utf-8", cte="base64")
        return mail

    def send(self, to: str, subject: str, body: str) -> DeliveryOutcome:
        try:
            mail = self.compose(to, subject, body)
        except (ValueError, TypeError) as error:
            return DeliveryOutcome(False, _detail(f"邮件内容无效 invalid message: {error}"))
        smtp: smtplib.SMTP | None = None
        try:
            if self.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            # The envelope carries bare addresses: a display name (督办系统 <...>) in it
            # would make smtplib demand SMTPUTF8 and send the headers unencoded.
            envelope_from = parseaddr(self.sender)[1] or self.sender
            refused = smtp.send_message(mail, from_addr=envelope_from, to_addrs=[to])
            if refused:
                code, text = next(iter(refused.values()))
                return DeliveryOutcome(False, _detail(f"收件人被拒绝 recipient refused: {code} {_text(text)}"))
            return DeliveryOutcome(True, "邮件已投递 accepted by SMTP server")
        except Exception as error:
            return DeliveryOutcome(False, _smtp_detail(error))
        finally:
            if smtp is not None:
                _quit(smtp)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _quit(smtp: smtplib.SMTP) -> None:
    """Say goodbye; the mail's fate was decided before this."""
    try:
        smtp.quit()
    except Exception:  # noqa: BLE001 - a failed QUIT changes nothing
        pass
    finally:
        smtp.close()


def _smtp_detail(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(error.recipients.values()), (0, b""))
        return _detail(f"收件人被拒绝 recipient refused: {code} {_text(text)}")
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _detail(f"发件人被拒绝 sender refused: {error.smtp_code} {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _detail(f"邮件服务器认证失败 authentication failed: {error.smtp_code}")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _detail(f"邮件服务器不支持 not supported: {error}")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return "邮件服务器断开连接 server disconnected"
    if isinstance(error, smtplib.SMTPResponseException):
        return _detail(f"邮件服务器拒绝 SMTP {error.smtp_code} {_text(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPException):
        return _detail(f"邮件发送失败 SMTP error: {error}")
    if isinstance(error, OSError):
        return _network_detail(error)
    log.warning("email: unexpected %r", error)
    return _detail(f"邮件发送失败 send failed: {type(error).__name__}")


# Delivering one message


@dataclass(frozen=True)
class Attempt:
    channel: str
    recipient: str
    detail: str = ""


@dataclass
class DeliveryReport:
    """What one run did: attempts that succeeded, attempts that failed (the job
    raises so RQ retries them), and deliveries already done before (skipped)."""

    message_id: UUID
    delivered: list[Attempt] = field(default_factory=list)
    failed: list[Attempt] = field(default_factory=list)
    skipped: list[Attempt] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def message_link(link_base: str, message: Message) -> str:
    """Where a recipient reads about the message: its finding's page, or the inbox."""
    if not link_base:
        return ""
    base = link_base.rstrip("/")
    return f"{base}/findings/{message.finding_id}" if message.finding_id else f"{base}/inbox"


def email_body(body: str, link: str) -> str:
    parts = [body.strip()]
    if link and link not in body:
        parts.append(f"查看：{link}")
    parts.append(EMAIL_FOOTER)
    return "\n\n".join(p for p in parts if p)


#: How often recording one attempt is retried when other workers keep saving the message.
RECORD_TRIES = 5


def deliver_message(
    duban: Any,
    message_id: UUID,
    webhook: WebhookChannel | None,
    email: EmailChannel | None,
    link_base: str = "",
) -> DeliveryReport:
    """Send the message on every channel it is due on and record each attempt
    right after it. What was delivered before is skipped, so running this again
    (an RQ retry) resends only what failed. One channel failing never stops the
    others. Unknown message: the service's UnknownMessage."""
    message: Message = duban.message(message_id)
    report = DeliveryReport(message.id)
    link = message_link(link_base, message)

    for unit_id in message.unit_ids:
        recipient = f"unit:{unit_id}"
        _attempt(duban, report, message.id, "inbox", recipient, _inbox)
        unit = _contact(duban.unit, unit_id, UnknownUnit)
        if webhook is not None and unit is not None and unit.webhook_url:
            payload = robot_payload(message.title, message.body, link)
            send = partial(webhook.send, unit.webhook_url, unit.webhook_secret, payload)
            _attempt(duban, report, message.id, "webhook", recipient, send)
    for user_id in message.user_ids:
        recipient = f"user:{user_id}"
        _attempt(duban, report, message.id, "inbox", recipient, _inbox)
        user = _contact(duban.user, user_id, UnknownUser)
        if email is not None and user is not None and user.email:
            send = partial(email.send, user.email, message.title, email_body(message.body, link))
            _attempt(duban, report, message.id, "email", recipient, send)
    return report


def _inbox() -> DeliveryOutcome:
    """The inbox entry is the ``Message.Sent`` event itself: recorded so the log shows it."""
    return DeliveryOutcome(True, INBOX_DETAIL)


def _contact(load: Callable[[UUID], Any], aggregate_id: UUID, missing: type[DomainError]) -> Any:
    try:
        return load(aggregate_id)
    except missing:
        log.warning("delivery: recipient %s not found", aggregate_id)
        return None


def _attempt(
    duban: Any,
    report: DeliveryReport,
    message_id: UUID,
    channel: str,
    recipient: str,
    send: Callable[[], DeliveryOutcome],
) -> None:
    # Fresh state for each pair: another worker may have delivered it meanwhile.
    if duban.message(message_id).was_delivered(channel, recipient):
        report.skipped.append(Attempt(channel, recipient, "此前已送达 delivered before"))
        return
    try:
        outcome = send()
    except Exception as error:  # a channel's bug must not stop the other channels
        log.exception("delivery: %s to %s raised", channel, recipient)
        outcome = DeliveryOutcome(False, _detail(f"发送失败 send failed: {type(error).__name__}"))
    result = Attempt(channel, recipient, outcome.detail)
    for _ in range(RECORD_TRIES):
        try:
            duban.record_delivery(message_id, channel, recipient, outcome.succeeded, outcome.detail)
        except AlreadyDelivered:
            break  # another worker delivered it first
        except ConcurrentChange:
            if duban.message(message_id).was_delivered(channel, recipient):
                break
            continue  # another worker recorded something else: record ours on top
        else:
            (report.delivered if outcome.succeeded else report.failed).append(result)
            if not outcome.succeeded:
                log.warning("delivery: %s to %s failed: %s", channel, recipient, outcome.detail)
            return
    else:
        # Could not record it: report it failed so the job is retried.
        report.failed.append(Attempt(channel, recipient, f"{outcome.detail}；未能记录 not recorded"))
        return
    (report.delivered if outcome.succeeded else report.skipped).append(result)
