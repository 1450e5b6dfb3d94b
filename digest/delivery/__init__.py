"""Delivering an edition: the queue and its ledger, the outcome policy, batches, the claim/send loop, workers.

    policy      what each provider answer does to a batch (no I/O)
    queue       enqueue readers, settle orphans, put uncertain back, counts    (ledger: per-batch SQL)
    batches     claimed readers -> provider calls; :class:`Mailing`, what every kind of send shares
    deliverer   the claim/send loop of one process
    workers     worker processes sharing one edition (PostgreSQL)
    runtime     pacing, stop signals, the garbage collector's tuning
    liveness    senders' locks (SQLite file lock, PostgreSQL advisory locks); a dead sender's rows settled
    settle      uncertain deliveries settled by provider events; which may be resent
    sending     :func:`send_edition`, the whole run
    trials      :func:`dry_run` and :func:`send_test`: sends that reach no reader

Only the names below are the package's face; the modules' other names are its inside.
"""

from digest.delivery.batches import Mailing
from digest.delivery.liveness import sender_lock
from digest.delivery.policy import MAX_ATTEMPTS, Action, SendOptions, on_error
from digest.delivery.runtime import Pacing, StopFlag
from digest.delivery.sending import SendReport, send_edition
from digest.delivery.trials import DryRunReport, dry_run, preview_fields, send_test

__all__ = [
    "MAX_ATTEMPTS",
    "Action",
    "DryRunReport",
    "Mailing",
    "Pacing",
    "SendOptions",
    "SendReport",
    "StopFlag",
    "dry_run",
    "on_error",
    "preview_fields",
    "send_edition",
    "send_test",
    "sender_lock",
]
