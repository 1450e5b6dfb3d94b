"""Bounces and complaints that come back by mail (SMTP users have no provider webhook): read from an mbox, a
Maildir or an IMAP mailbox (:mod:`.mailboxes`), parsed into reports (:mod:`.reports`, DSN per RFC 3464 and
the formats real servers send, through flufl.bounce; ARF complaints per RFC 5965), matched to our deliveries
and acted on by the provider events' policy (:mod:`.record`).
"""

from digest.bounces.mailboxes import open_mailbox
from digest.bounces.record import BounceSummary, record_reports
from digest.bounces.reports import MailReport, read_report, read_reports

__all__ = ["BounceSummary", "MailReport", "open_mailbox", "read_report", "read_reports", "record_reports"]
