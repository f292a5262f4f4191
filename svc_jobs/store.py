"""The jobs service's Cassandra tables: one per query, written idempotently.

    jobs                     job by id; also the search (SAI on search_words)
    jobs_by_client           the listing of GetMyJobs, oldest first
    proposals_by_job         proposal by (job, id) and the proposals of a job
    proposals_by_freelancer  pointers (job, proposal) for GetMyProposals

Rows of `jobs` and `proposals_by_job` change state, so every write to them
is a lightweight transaction (creates are IF NOT EXISTS, changes are
IF <state>): a redelivered create finds its row instead of overwriting it,
and two concurrent accepts cannot both win. The listing tables only ever
get rows inserted with values copied from the stored row, so rewriting them
is harmless. `proposals_by_freelancer` holds pointers rather than copies:
the proposal's status changes, and a copy would go stale.

Accepting a proposal claims the job first (`accepting_proposal`, with a TTL
so a crashed acceptance cannot hold the job forever), then closes it for
that proposal. See accept.py for the order and why.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement

from common.cql import (
    Replication,
    applied,
    cassandra_errors,
    checked_keyspace,
    create_keyspace,
    prepare,
    utc,
)
from svc_jobs.model import (
    ACCEPTED,
    PENDING,
    Attachment,
    Job,
    Listing,
    PlannedMilestone,
    Proposal,
)
from svc_jobs.search import MAX_QUERY_WORDS

#: Proposals read at once when listing a freelancer's proposals.
FETCH_CONCURRENCY = 32

_TABLES = (
    """CREATE TABLE IF NOT EXISTS {ks}.jobs (
        id uuid PRIMARY KEY,
        client_id text,
        title text,
        description text,
        location text,
        budget decimal,
        skills list<text>,
        experience text,
        active boolean,
        search_words set<text>,
        accepting_proposal uuid,
        accepted_proposal uuid,
        contract_id text,
        created_at timestamp,
        updated_at timestamp)""",
    """CREATE CUSTOM INDEX IF NOT EXISTS jobs_search_words
        ON {ks}.jobs (values(search_words)) USING 'StorageAttachedIndex'""",
    """CREATE TABLE IF NOT EXISTS {ks}.jobs_by_client (
        client_id text,
        created_at timestamp,
        job_id uuid,
        title text,
        description text,
        experience text,
        skills list<text>,
        PRIMARY KEY (client_id, created_at, job_id))""",
    """CREATE TABLE IF NOT EXISTS {ks}.proposals_by_job (
        job_id uuid,
        proposal_id uuid,
        freelancer_id text,
        cover_letter text,
        duration text,
        status text,
        attachments list<frozen<tuple<text, text>>>,
        milestones list<frozen<tuple<text, decimal, timestamp>>>,
        created_at timestamp,
        updated_at timestamp,
        PRIMARY KEY (job_id, proposal_id))""",
    """CREATE TABLE IF NOT EXISTS {ks}.proposals_by_freelancer (
        freelancer_id text,
        created_at timestamp,
        proposal_id uuid,
        job_id uuid,
        PRIMARY KEY (freelancer_id, created_at, proposal_id))""",
)

_JOB_COLUMNS = (
    "id, client_id, title, description, location, budget, skills, experience, "
    "active, accepted_proposal, contract_id, created_at, updated_at"
)
_PROPOSAL_COLUMNS = (
    "job_id, proposal_id, freelancer_id, cover_letter, duration, status, "
    "attachments, milestones, created_at, updated_at"
)


def ensure_schema(session: Session, keyspace: str, replication: Replication) -> None:
    """Creates the keyspace, tables and index if they are missing."""
    create_keyspace(session, keyspace, replication)
    for statement in _TABLES:
        session.execute(statement.format(ks=checked_keyspace(keyspace)))


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to claim a job for one proposal's acceptance."""

    won: bool
    active: bool
    accepting_proposal: uuid.UUID | None


class CassandraJobStore:
    """Reads and writes jobs and proposals; every method may raise Unavailable."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._keyspace = checked_keyspace(keyspace)
        self.attach(session)

    def attach(self, session: Session) -> None:
        """Prepares the statements on a (new) session, e.g. after a freeze."""
        self._session = session
        self._q = _Statements(session, self._keyspace)

    # --- jobs ------------------------------------------------------------

    def insert_job(self, job: Job, words: frozenset[str]) -> Job:
        """Stores a new job unless its id exists; returns the stored one."""
        with cassandra_errors("An error occurred while saving job"):
            result = self._session.execute(self._q.insert_job, _job_values(job, words))
            stored = job if applied(result) else _job(result.one())
            self._session.execute(self._q.insert_listing, _listing_values(stored))
        return stored

    def job(self, job_id: uuid.UUID) -> Job | None:
        with cassandra_errors("An error occurred while fetching job"):
            row = self._session.execute(self._q.select_job, (job_id,)).one()
        return None if row is None else _job(row)

    def jobs_of_client(self, client_id: str) -> list[Listing]:
        with cassandra_errors("An error occurred while fetching jobs"):
            rows = self._session.execute(self._q.select_listings, (client_id,))
            return [_listing(row, 0) for row in rows]

    def search(self, words: frozenset[str], after: int, limit: int) -> list[Listing]:
        """Active jobs having every word, in token order after `after`."""
        statement = self._q.search[len(words) - 1]
        values = (*sorted(words), after, limit)
        with cassandra_errors("An error occurred while searching jobs"):
            rows = self._session.execute(statement, values)
            return [_listing(row, row.search_token) for row in rows]

    # --- acceptance --------------------------------------------------------

    def claim_job(self, job_id: uuid.UUID, proposal_id: uuid.UUID, ttl_s: int) -> Claim:
        """Marks an active job as being accepted for this proposal, for ttl_s."""
        with cassandra_errors("An error occurred while accepting job proposal"):
            result = self._session.execute(
                self._q.claim_job, (ttl_s, proposal_id, job_id)
            )
        if applied(result):
            return Claim(won=True, active=True, accepting_proposal=proposal_id)
        row = result.one()
        return Claim(
            won=False,
            active=bool(row.active),
            accepting_proposal=row.accepting_proposal,
        )

    def release_claim(self, job_id: uuid.UUID, proposal_id: uuid.UUID) -> None:
        with cassandra_errors("An error occurred while accepting job proposal"):
            self._session.execute(self._q.release_claim, (job_id, proposal_id))

    def close_job(
        self, job_id: uuid.UUID, proposal_id: uuid.UUID, contract_id: str
    ) -> bool:
        """Closes the job for the proposal that holds its claim.

        True when it is now closed for this proposal (by this call or an
        earlier one); False when the claim was lost to another proposal.
        """
        values = (contract_id, proposal_id, now(), job_id, proposal_id)
        with cassandra_errors("An error occurred while accepting job proposal"):
            result = self._session.execute(self._q.close_job, values)
        if applied(result):
            return True
        job = self.job(job_id)
        return job is not None and job.accepted_proposal == proposal_id

    def mark_accepted(self, job_id: uuid.UUID, proposal_id: uuid.UUID) -> bool:
        """PENDING -> ACCEPTED; False when the proposal was no longer PENDING."""
        values = (ACCEPTED, now(), job_id, proposal_id, PENDING)
        with cassandra_errors("An error occurred while accepting job proposal"):
            return applied(self._session.execute(self._q.accept_proposal, values))

    # --- proposals -------------------------------------------------------

    def insert_proposal(self, proposal: Proposal) -> Proposal:
        """Stores a new proposal unless its id exists; returns the stored one."""
        pointer = (
            proposal.freelancer_id,
            proposal.created_at,
            proposal.id,
            proposal.job_id,
        )
        with cassandra_errors("An error occurred while saving proposal"):
            # Pointer first: a pointer without its proposal is skipped on
            # read, while a proposal without a pointer would go missing.
            self._session.execute(self._q.insert_pointer, pointer)
            result = self._session.execute(
                self._q.insert_proposal, _proposal_values(proposal)
            )
        return proposal if applied(result) else _proposal(result.one())

    def proposal(self, job_id: uuid.UUID, proposal_id: uuid.UUID) -> Proposal | None:
        with cassandra_errors("An error occurred while accepting job proposal"):
            row = self._session.execute(
                self._q.select_proposal, (job_id, proposal_id)
            ).one()
        return None if row is None else _proposal(row)

    def proposals_of_job(self, job_id: uuid.UUID) -> list[Proposal]:
        """Oldest first."""
        with cassandra_errors("An error occurred while fetching proposals"):
            rows = self._session.execute(self._q.select_proposals, (job_id,))
            proposals = [_proposal(row) for row in rows]
        return sorted(proposals, key=lambda p: (p.created_at, p.id))

    def proposals_of_freelancer(self, freelancer_id: str) -> list[Proposal]:
        """Oldest first."""
        with cassandra_errors("An error occurred while fetching proposals"):
            pointers = list(
                self._session.execute(self._q.select_pointers, (freelancer_id,))
            )
            results = execute_concurrent_with_args(
                self._session,
                self._q.select_proposal,
                [(row.job_id, row.proposal_id) for row in pointers],
                concurrency=FETCH_CONCURRENCY,
                raise_on_first_error=True,
            )
            return [_proposal(row) for _, result in results for row in result]


class _Statements:
    """Every statement the store runs, prepared once per session."""

    def __init__(self, session: Session, keyspace: str) -> None:
        self._session = session
        self._keyspace = keyspace
        self.insert_job = self._prepare(
            "INSERT INTO {ks}.jobs ({job_columns}, search_words) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self.insert_listing = self._prepare(
            "INSERT INTO {ks}.jobs_by_client (client_id, created_at, job_id, "
            "title, description, experience, skills) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        self.select_job = self._prepare(
            "SELECT {job_columns} FROM {ks}.jobs WHERE id = ?"
        )
        self.select_listings = self._prepare(
            "SELECT job_id AS id, title, description, experience, skills "
            "FROM {ks}.jobs_by_client WHERE client_id = ?"
        )
        self.search = [
            self._prepare(_SEARCH, contains=_all_words(count))
            for count in range(1, MAX_QUERY_WORDS + 1)
        ]
        self.claim_job = self._prepare(
            "UPDATE {ks}.jobs USING TTL ? SET accepting_proposal = ? WHERE id = ? "
            "IF active = true AND accepting_proposal = null"
        )
        self.release_claim = self._prepare(
            "UPDATE {ks}.jobs SET accepting_proposal = null WHERE id = ? "
            "IF accepting_proposal = ?"
        )
        self.close_job = self._prepare(
            "UPDATE {ks}.jobs SET active = false, search_words = null, "
            "accepting_proposal = null, contract_id = ?, accepted_proposal = ?, "
            "updated_at = ? WHERE id = ? IF accepting_proposal = ?"
        )
        self.insert_pointer = self._prepare(
            "INSERT INTO {ks}.proposals_by_freelancer (freelancer_id, created_at, "
            "proposal_id, job_id) VALUES (?, ?, ?, ?)"
        )
        self.insert_proposal = self._prepare(
            "INSERT INTO {ks}.proposals_by_job ({proposal_columns}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
        )
        self.select_proposal = self._prepare(
            "SELECT {proposal_columns} FROM {ks}.proposals_by_job "
            "WHERE job_id = ? AND proposal_id = ?"
        )
        self.select_proposals = self._prepare(
            "SELECT {proposal_columns} FROM {ks}.proposals_by_job WHERE job_id = ?"
        )
        self.select_pointers = self._prepare(
            "SELECT job_id, proposal_id FROM {ks}.proposals_by_freelancer "
            "WHERE freelancer_id = ?"
        )
        self.accept_proposal = self._prepare(
            "UPDATE {ks}.proposals_by_job SET status = ?, updated_at = ? "
            "WHERE job_id = ? AND proposal_id = ? IF status = ?"
        )

    def _prepare(self, template: str, **parts: str) -> PreparedStatement:
        """Fills in the keyspace and column lists: fixed text, never input."""
        cql = template.format(
            ks=self._keyspace,
            job_columns=_JOB_COLUMNS,
            proposal_columns=_PROPOSAL_COLUMNS,
            **parts,
        )
        return prepare(self._session, cql)


def _all_words(count: int) -> str:
    return " AND ".join(["search_words CONTAINS ?"] * count)


#: One page of active jobs having every word, in token order.
_SEARCH = (
    "SELECT id, title, description, experience, skills, "
    "token(id) AS search_token FROM {ks}.jobs WHERE {contains} "
    "AND token(id) > ? LIMIT ?"
)


def now() -> dt.datetime:
    """Now, at the millisecond precision Cassandra stores, so the value a
    create returns equals the one read back later."""
    moment = dt.datetime.now(dt.UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _job_values(job: Job, words: frozenset[str]) -> tuple[Any, ...]:
    return (
        job.id,
        job.client_id,
        job.title,
        job.description,
        job.location,
        job.budget,
        list(job.skills),
        job.experience,
        job.active,
        job.accepted_proposal,
        job.contract_id,
        job.created_at,
        job.updated_at,
        set(words) or None,
    )


def _listing_values(job: Job) -> tuple[Any, ...]:
    return (
        job.client_id,
        job.created_at,
        job.id,
        job.title,
        job.description,
        job.experience,
        list(job.skills),
    )


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        client_id=row.client_id,
        title=row.title,
        description=row.description,
        location=row.location,
        budget=row.budget if row.budget is not None else Decimal(0),
        skills=tuple(row.skills or ()),
        experience=row.experience,
        active=bool(row.active),
        created_at=_required_time(row.created_at),
        updated_at=_required_time(row.updated_at),
        accepted_proposal=row.accepted_proposal,
        contract_id=row.contract_id,
    )


def _listing(row: Any, token: int) -> Listing:
    return Listing(
        id=row.id,
        title=row.title,
        description=row.description,
        experience=row.experience,
        skills=tuple(row.skills or ()),
        token=int(token),
    )


def _proposal_values(proposal: Proposal) -> tuple[Any, ...]:
    return (
        proposal.job_id,
        proposal.id,
        proposal.freelancer_id,
        proposal.cover_letter,
        proposal.duration,
        proposal.status,
        [(a.name, a.url) for a in proposal.attachments],
        [(m.description, m.amount, m.due_date) for m in proposal.milestones],
        proposal.created_at,
        proposal.updated_at,
    )


def _proposal(row: Any) -> Proposal:
    return Proposal(
        id=row.proposal_id,
        job_id=row.job_id,
        freelancer_id=row.freelancer_id,
        cover_letter=row.cover_letter,
        duration=row.duration,
        status=row.status,
        created_at=_required_time(row.created_at),
        updated_at=_required_time(row.updated_at),
        attachments=tuple(_attachments(row.attachments)),
        milestones=tuple(_milestones(row.milestones)),
    )


def _attachments(values: Iterable[tuple[Any, ...]] | None) -> Iterable[Attachment]:
    for name, url in values or ():
        yield Attachment(name=name, url=url)


def _milestones(
    values: Iterable[tuple[Any, ...]] | None,
) -> Iterable[PlannedMilestone]:
    for description, amount, due_date in values or ():
        yield PlannedMilestone(
            description=description,
            amount=amount if amount is not None else Decimal(0),
            due_date=utc(due_date),
        )


def _required_time(value: dt.datetime | None) -> dt.datetime:
    aware = utc(value)
    if aware is None:
        raise ValueError("a stored row lacks its timestamp")
    return aware
