"""Email over SMTP (STARTTLS and login when configured)."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from loanbridge.notify.channels.base import Result


@dataclass
class SmtpEmail:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0
    kind: str = "email"

    def send(self, to: str, subject: str, body: str) -> Result:
        """Send one plain-text mail."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            return Result.failed("recipient_refused", transient=False)
        except smtplib.SMTPResponseException as exc:
            return Result.failed(f"smtp_{exc.smtp_code}", transient=400 <= exc.smtp_code < 500)
        except (TimeoutError, smtplib.SMTPException, OSError):
            return Result.failed("connection_error", transient=True)
        return Result.sent("250")
