-- Wallets, payment requests, payments and the wallet ledger (API.md 5.3.2),
-- plus the outbox that tells contracts about payments (API.md X4).
-- Money is NUMERIC(18,2): exact cents, never a float.

CREATE TABLE wallet (
    freelancer_id TEXT PRIMARY KEY,
    balance NUMERIC(18, 2) NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE payment_request (
    id TEXT PRIMARY KEY,
    freelancer_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    amount NUMERIC(18, 2) NOT NULL CHECK (amount > 0),
    -- The contract milestone billed; one request per milestone.
    reference_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'PAID', 'CANCELLED')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX payment_request_by_client ON payment_request (client_id, created_at);
CREATE INDEX payment_request_by_freelancer
    ON payment_request (freelancer_id, created_at);

CREATE TABLE payment_transaction (
    id TEXT PRIMARY KEY,
    -- UNIQUE: a request is paid at most once, whatever the code above does.
    payment_request_id TEXT NOT NULL UNIQUE REFERENCES payment_request (id),
    amount NUMERIC(18, 2) NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    -- The key of the call that paid, so its retry gets the same answer.
    idempotency_key TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE wallet_transaction (
    id TEXT PRIMARY KEY,
    wallet_id TEXT NOT NULL REFERENCES wallet (freelancer_id),
    amount NUMERIC(18, 2) NOT NULL CHECK (amount > 0),
    -- The wallet's balance right after this row: the ledger can be audited
    -- row by row, and a replayed withdrawal answers with what it left.
    balance_after NUMERIC(18, 2) NOT NULL CHECK (balance_after >= 0),
    payment_transaction_id TEXT,
    description TEXT,
    transaction_type TEXT NOT NULL CHECK (transaction_type IN ('DEBIT', 'CREDIT')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX wallet_transaction_by_wallet ON wallet_transaction (wallet_id, created_at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    payload BYTEA NOT NULL,
    caller_id TEXT NOT NULL,
    caller_role TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    delivered_at TIMESTAMPTZ,
    -- Set when the receiver refused for good; an operator clears it to retry.
    parked_at TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX outbox_due ON outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND parked_at IS NULL;
