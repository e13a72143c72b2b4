"""Versioned SQL migrations: an append-only list, version = position + 1.

Never edit or reorder an entry that has shipped; append a new one. Applied in order
under an advisory lock (so several processes starting at once do not race) and
recorded in ``schema_migrations``.
"""

from __future__ import annotations

import logging
from typing import Final

from psycopg import sql

from persistence.db import Conn

logger = logging.getLogger(__name__)

# An arbitrary constant naming this project's migration lock.
MIGRATION_LOCK_ID: Final = 0x5246_4E44_4D49_4752  # "RFNDMIGR"

GENESIS_HASH: Final = "0" * 64

CREATE_MIGRATIONS_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""

MIGRATIONS: Final[list[str]] = [
    # 1: orders, refunds, review tickets
    """
    CREATE TABLE customers (
        email       text PRIMARY KEY CHECK (email = lower(email) AND email LIKE '%_@_%'),
        name        text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE orders (
        id              text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
        customer_email  text NOT NULL REFERENCES customers (email),
        payment_id      text NOT NULL UNIQUE,
        payer_address   text NOT NULL,
        amount_usdc     numeric(20, 6) NOT NULL CHECK (amount_usdc > 0),
        refunded_usdc   numeric(20, 6) NOT NULL DEFAULT 0
                        CHECK (refunded_usdc >= 0 AND refunded_usdc <= amount_usdc),
        currency        text NOT NULL DEFAULT 'USDC',
        network         text NOT NULL DEFAULT 'polygon',
        description     text NOT NULL DEFAULT '',
        created_at      timestamptz NOT NULL,
        refund_status   text NOT NULL DEFAULT 'none'
                        CHECK (refund_status IN ('none', 'partial', 'refunded'))
    );
    CREATE INDEX orders_customer_email_idx ON orders (customer_email);

    CREATE TABLE refunds (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id         text NOT NULL REFERENCES orders (id),
        attempt          integer NOT NULL CHECK (attempt >= 1),
        request_key      text NOT NULL UNIQUE,
        idempotency_key  text NOT NULL UNIQUE,
        customer_email   text NOT NULL,
        payment_id       text NOT NULL,
        amount_usdc      numeric(20, 6) NOT NULL CHECK (amount_usdc > 0),
        reason           text NOT NULL DEFAULT '',
        status           text NOT NULL CHECK (
                             status IN ('intent', 'submitted', 'confirmed', 'failed', 'unknown')
                         ),
        approved_by      text NOT NULL,
        policy_version   text,
        thread_id        text,
        moltpe_refund_id text,
        tx_hash          text,
        error_code       text,
        error_reason     text,
        error_message    text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        updated_at       timestamptz NOT NULL DEFAULT now(),
        UNIQUE (order_id, attempt)
    );
    -- At most one refund per order whose fate is not settled: the exactly-once guard.
    CREATE UNIQUE INDEX refunds_one_open_per_order
        ON refunds (order_id) WHERE status IN ('intent', 'submitted', 'unknown');
    CREATE INDEX refunds_customer_idx ON refunds (customer_email, created_at);
    CREATE INDEX refunds_created_idx ON refunds (created_at);

    CREATE TABLE review_tickets (
        id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        request_key      text UNIQUE,
        customer_email   text,
        order_id         text,
        reason           text NOT NULL,
        status           text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'approved', 'denied', 'closed')),
        thread_id        text,
        context          jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at       timestamptz NOT NULL DEFAULT now(),
        resolved_by      text,
        resolved_at      timestamptz,
        resolution_note  text,
        refund_id        uuid REFERENCES refunds (id)
    );
    CREATE INDEX review_tickets_status_idx ON review_tickets (status, created_at);
    """,
    # 2: the append-only, hash-chained audit log
    """
    CREATE TABLE audit_events (
        seq             bigint PRIMARY KEY CHECK (seq >= 1),
        ts              timestamptz NOT NULL,
        event_type      text NOT NULL,
        actor           text NOT NULL,
        thread_id       text,
        order_id        text,
        customer_email  text,
        payload         jsonb NOT NULL,
        prev_hash       text NOT NULL,
        hash            text NOT NULL UNIQUE
    );
    CREATE INDEX audit_events_thread_idx ON audit_events (thread_id, seq);
    CREATE INDEX audit_events_type_idx ON audit_events (event_type, seq);

    CREATE TABLE audit_chain_head (
        id    boolean PRIMARY KEY DEFAULT true CHECK (id),
        seq   bigint NOT NULL,
        hash  text NOT NULL
    );
    INSERT INTO audit_chain_head (id, seq, hash) VALUES (true, 0, repeat('0', 64));

    CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER audit_events_no_update_delete
        BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
    CREATE TRIGGER audit_events_no_truncate
        BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
    CREATE TRIGGER audit_head_no_delete
        BEFORE DELETE ON audit_chain_head
        FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
    CREATE TRIGGER audit_head_no_truncate
        BEFORE TRUNCATE ON audit_chain_head
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;

    -- The one way in: checks the caller chained onto the current head (locked by
    -- the caller with SELECT ... FOR UPDATE), inserts, and advances the head.
    CREATE FUNCTION audit_append(
        p_seq bigint, p_ts timestamptz, p_event_type text, p_actor text,
        p_thread_id text, p_order_id text, p_customer_email text, p_payload jsonb,
        p_prev_hash text, p_hash text
    ) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    DECLARE
        head_seq bigint;
        head_hash text;
    BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id FOR UPDATE;
        IF p_seq <> head_seq + 1 OR p_prev_hash <> head_hash THEN
            RAISE EXCEPTION 'audit append does not extend the chain head (% / %)',
                head_seq, p_seq
                USING ERRCODE = 'serialization_failure';
        END IF;
        INSERT INTO audit_events (seq, ts, event_type, actor, thread_id, order_id,
                                  customer_email, payload, prev_hash, hash)
        VALUES (p_seq, p_ts, p_event_type, p_actor, p_thread_id, p_order_id,
                p_customer_email, p_payload, p_prev_hash, p_hash);
        UPDATE audit_chain_head SET seq = p_seq, hash = p_hash WHERE id;
    END;
    $$;
    """,
    # 3: conversations of the HTTP service, and rate-limit counters shared by processes
    """
    CREATE TABLE conversations (
        thread_id       text PRIMARY KEY,
        customer_email  text,
        channel         text NOT NULL DEFAULT 'web',
        created_at      timestamptz NOT NULL DEFAULT now(),
        busy_until      timestamptz
    );

    -- Answers to customer messages sent with an Idempotency-Key, so that a client's
    -- retry of the same message is answered again instead of becoming a new request.
    CREATE TABLE conversation_requests (
        thread_id        text NOT NULL REFERENCES conversations (thread_id),
        idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        response         jsonb NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, idempotency_key)
    );

    CREATE TABLE rate_limit_hits (
        bucket        text NOT NULL,
        window_start  timestamptz NOT NULL,
        hits          integer NOT NULL,
        PRIMARY KEY (bucket, window_start)
    );
    """,
    # 4: a reviewer claims a ticket while resolving it; a turn's lease names its holder
    """
    ALTER TABLE review_tickets ADD COLUMN claimed_by text, ADD COLUMN claimed_until timestamptz;
    ALTER TABLE conversations ADD COLUMN busy_token text;
    """,
    # 5: the database computes every audit row's hash; only granted roles may append
    """
    DROP FUNCTION audit_append(
        bigint, timestamptz, text, text, text, text, text, jsonb, text, text
    );

    -- The canonical JSON of a value, exactly as persistence/audit.py's canonical_content
    -- writes it with json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False):
    -- keys sorted by code point (UTF-8 byte order), no spaces, Postgres's JSON string
    -- escaping (the same as Python's without ensure_ascii). Only integer numbers: the
    -- application writes amounts as strings, and a float would not survive Python's
    -- reading of the row unchanged.
    CREATE FUNCTION audit_canonical_json(v jsonb) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog AS $$
    DECLARE
        out text;
    BEGIN
        CASE jsonb_typeof(v)
        WHEN 'object' THEN
            SELECT '{' || coalesce(string_agg(
                       to_json(e.key)::text || ':' || public.audit_canonical_json(e.value),
                       ',' ORDER BY e.key COLLATE "C"), '') || '}'
              INTO out FROM jsonb_each(v) AS e;
            RETURN out;
        WHEN 'array' THEN
            SELECT '[' || coalesce(string_agg(
                       public.audit_canonical_json(a.value), ',' ORDER BY a.n), '') || ']'
              INTO out FROM jsonb_array_elements(v) WITH ORDINALITY AS a(value, n);
            RETURN out;
        WHEN 'number' THEN
            IF v::text !~ '^-?[0-9]+$' THEN
                RAISE EXCEPTION 'audit payloads hold integers only (got %)', v
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'write amounts as text';
            END IF;
            RETURN v::text;
        ELSE
            RETURN v::text;  -- strings (escaped), true, false, null
        END CASE;
    END;
    $$;

    -- sha256(prev_hash || canonical content) of a row, as persistence/audit.py row_hash.
    CREATE FUNCTION audit_row_hash(r audit_events) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog AS $$
    BEGIN
        RETURN encode(sha256(convert_to(r.prev_hash || public.audit_canonical_json(
            jsonb_build_object(
                'seq', r.seq,
                'ts', to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
                'event_type', r.event_type,
                'actor', r.actor,
                'thread_id', r.thread_id,
                'order_id', r.order_id,
                'customer_email', r.customer_email,
                'payload', r.payload
            )), 'UTF8')), 'hex');
    END;
    $$;

    -- Every inserted row is chained by the database, whoever inserts it: the head is
    -- locked, the row gets the next seq, the database's time, the head's hash as
    -- prev_hash and its own hash; the head advances. What the inserter put in those
    -- columns is ignored, so no caller can write a row with a wrong hash.
    CREATE FUNCTION audit_chain_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
    DECLARE
        head_seq bigint;
        head_hash text;
    BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit chain head is missing' USING ERRCODE = 'data_exception';
        END IF;
        NEW.seq := head_seq + 1;
        NEW.ts := clock_timestamp();
        NEW.prev_hash := head_hash;
        NEW.hash := audit_row_hash(NEW);
        UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE id;
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER audit_events_chain
        BEFORE INSERT ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_chain_insert();

    -- The one way in for the application: it names the event, the database does the rest.
    CREATE FUNCTION audit_append(
        p_event_type text, p_actor text, p_thread_id text, p_order_id text,
        p_customer_email text, p_payload jsonb
    ) RETURNS SETOF audit_events LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    BEGIN
        RETURN QUERY
        INSERT INTO audit_events (seq, ts, event_type, actor, thread_id, order_id,
                                  customer_email, payload, prev_hash, hash)
        VALUES (0, now(), p_event_type, p_actor, p_thread_id, p_order_id,
                p_customer_email, coalesce(p_payload, '{}'::jsonb), '', '')
        RETURNING *;
    END;
    $$;
    REVOKE ALL ON FUNCTION audit_append(text, text, text, text, text, jsonb) FROM PUBLIC;
    REVOKE ALL ON FUNCTION audit_chain_insert() FROM PUBLIC;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_events, audit_chain_head FROM PUBLIC;
    """,
    # 6: one open review ticket per order; later escalations attach to it
    """
    -- Open duplicates from before (concurrent escalations of one order) are closed in
    -- favour of the order's oldest open ticket, saying so on the ticket.
    WITH ranked AS (
        SELECT id, min(id) OVER (PARTITION BY order_id) AS first_id
          FROM review_tickets
         WHERE status = 'open' AND order_id IS NOT NULL
    )
    UPDATE review_tickets AS t
       SET status = 'closed', resolved_by = 'migration', resolved_at = now(),
           resolution_note = 'duplicate of RT-' || lpad(r.first_id::text, 6, '0')
                             || ', the order''s open ticket',
           claimed_by = NULL, claimed_until = NULL
      FROM ranked AS r
     WHERE t.id = r.id AND r.id <> r.first_id;
    CREATE UNIQUE INDEX review_tickets_one_open_per_order
        ON review_tickets (order_id) WHERE status = 'open' AND order_id IS NOT NULL;
    """,
    # 7: a reviewer takes an open ticket as theirs (the console's "Mine"); the trail of an
    # order is read by its id
    """
    ALTER TABLE review_tickets ADD COLUMN assignee text, ADD COLUMN assigned_at timestamptz;
    CREATE INDEX review_tickets_assignee_idx
        ON review_tickets (assignee, id) WHERE status = 'open';
    CREATE INDEX review_tickets_resolved_idx
        ON review_tickets (resolved_at, id) WHERE status <> 'open';
    CREATE INDEX audit_events_order_idx ON audit_events (order_id, seq);
    """,
    # 8: the console's one search box (order id or email, in part, any case) uses trigram
    # indexes where the server has pg_trgm (300,000 tickets: 250 ms a search without,
    # 4 ms with; repo.search_tickets is never prepared, so that its plan can use them);
    # a server without pg_trgm (the embedded one) searches by scanning, as before
    """
    DO $$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX review_tickets_order_trgm_idx
                ON review_tickets USING gin (order_id gin_trgm_ops);
            CREATE INDEX review_tickets_email_trgm_idx
                ON review_tickets USING gin (customer_email gin_trgm_ops);
        ELSE
            RAISE NOTICE 'pg_trgm is not available: ticket search scans the table';
        END IF;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'no privilege to create pg_trgm: ticket search scans the table';
    END
    $$;
    """,
    # 9: the whole transcript of every conversation (the checkpoint keeps only the latest
    # messages), read by the conversation API and the review console
    """
    CREATE TABLE conversation_messages (
        thread_id   text NOT NULL,
        seq         bigint GENERATED ALWAYS AS IDENTITY,
        role        text NOT NULL CHECK (role IN ('customer', 'agent', 'reviewer')),
        text        text NOT NULL,
        author      text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (thread_id, seq)
    );
    """,
    # 10: no refund is ever 'submitted' (the row goes from 'intent' straight to its outcome,
    # or to 'unknown' when MoltPe's answer is lost): the state goes. A row some older code
    # left there is one whose outcome nobody knows, which is what 'unknown' says (the
    # reconciler then settles it). The exactly-once index covers the open states left.
    """
    UPDATE refunds SET status = 'unknown', updated_at = now() WHERE status = 'submitted';
    ALTER TABLE refunds
        DROP CONSTRAINT refunds_status_check,
        ADD CONSTRAINT refunds_status_check
            CHECK (status IN ('intent', 'confirmed', 'failed', 'unknown'));
    DROP INDEX refunds_one_open_per_order;
    CREATE UNIQUE INDEX refunds_one_open_per_order
        ON refunds (order_id) WHERE status IN ('intent', 'unknown');
    """,
    # 11: a refund the reconciler settled after its turn had answered is told to the
    # customer on their conversation: notice_due is set with the settlement, in its
    # transaction; customer_told_at once the message is in the conversation.
    """
    ALTER TABLE refunds
        ADD COLUMN notice_due boolean NOT NULL DEFAULT false,
        ADD COLUMN customer_told_at timestamptz;
    CREATE INDEX refunds_notice_due ON refunds (updated_at)
        WHERE notice_due AND customer_told_at IS NULL;
    """,
    # 12: today's refund budget as one counter row a day, reserved by a guarded UPDATE at
    # the end of a refund's intent transaction (no global lock) and released when the
    # refund fails. A day's row is seeded from the refunds of that day the first time it
    # is used (the business time zone is a setting, so the migration cannot backfill it).
    """
    CREATE TABLE refund_budget_days (
        day         date PRIMARY KEY,
        spent       numeric(20, 6) NOT NULL DEFAULT 0 CHECK (spent >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now()
    );
    """,
    # 13: the audit chain off the writers' path. A transaction appends its events to
    # audit_pending (insert-only, each row sealed with the hash of its own content, no
    # shared row locked); a chainer links committed pending rows into audit_events in
    # batches under the chain head's lock, moving them in one statement. Readers that
    # want every event, chained or not yet, read the view audit_log.
    """
    CREATE TABLE audit_pending (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        ts              timestamptz NOT NULL,
        event_type      text NOT NULL,
        actor           text NOT NULL,
        thread_id       text,
        order_id        text,
        customer_email  text,
        payload         jsonb NOT NULL,
        seal            text NOT NULL
    );
    ALTER TABLE audit_events ADD COLUMN pending_id bigint UNIQUE,
                             ADD COLUMN pending_seal text,
                             ADD COLUMN written_at timestamptz;

    -- sha256 of a pending row's canonical content (its id in place of a seq, no prev
    -- hash), as persistence/audit.py pending_seal: carried into the chain, so an edit
    -- made while the row waited is found by verify after it was chained too.
    CREATE FUNCTION audit_pending_seal(r audit_pending) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog AS $$
    BEGIN
        RETURN encode(sha256(convert_to(public.audit_canonical_json(
            jsonb_build_object(
                'seq', r.id,
                'ts', to_char(r.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
                'event_type', r.event_type,
                'actor', r.actor,
                'thread_id', r.thread_id,
                'order_id', r.order_id,
                'customer_email', r.customer_email,
                'payload', r.payload
            )), 'UTF8')), 'hex');
    END;
    $$;

    -- Every pending row gets the database's time and its seal, whoever inserts it.
    CREATE FUNCTION audit_pending_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
    BEGIN
        NEW.ts := clock_timestamp();
        NEW.seal := audit_pending_seal(NEW);
        RETURN NEW;
    END;
    $$;
    CREATE TRIGGER audit_pending_seal
        BEFORE INSERT ON audit_pending
        FOR EACH ROW EXECUTE FUNCTION audit_pending_insert();

    -- Pending rows are never updated, and deleted only by the chainer moving them.
    CREATE FUNCTION audit_pending_refuse() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('audit.chaining', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_pending is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END;
    $$;
    CREATE TRIGGER audit_pending_no_update_delete
        BEFORE UPDATE OR DELETE ON audit_pending
        FOR EACH ROW EXECUTE FUNCTION audit_pending_refuse();
    CREATE TRIGGER audit_pending_no_truncate
        BEFORE TRUNCATE ON audit_pending
        FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

    -- Every chained row gets the database's time at chaining (no caller picks it); the
    -- chainer also carries the pending row's id, seal and written time (written_at).
    CREATE OR REPLACE FUNCTION audit_chain_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
    DECLARE
        head_seq bigint;
        head_hash text;
    BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM audit_chain_head WHERE id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'audit chain head is missing' USING ERRCODE = 'data_exception';
        END IF;
        NEW.seq := head_seq + 1;
        NEW.ts := clock_timestamp();
        IF NEW.pending_id IS NULL OR current_setting('audit.chaining', true) IS DISTINCT FROM 'on'
        THEN
            NEW.pending_id := NULL;
            NEW.pending_seal := NULL;
            NEW.written_at := NULL;
        END IF;
        NEW.prev_hash := head_hash;
        NEW.hash := audit_row_hash(NEW);
        UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE id;
        RETURN NEW;
    END;
    $$;

    -- The application's ways in: append events (pending) and chain what is pending.
    -- audit_append (migration 5) stays as it was, chaining at once under the head's lock,
    -- so processes of the previous release keep working while this one rolls out.
    -- Several events in one statement: a JSON array of objects with audit_append's fields.
    CREATE FUNCTION audit_append_many(p_events jsonb) RETURNS SETOF audit_pending
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    BEGIN
        RETURN QUERY
        INSERT INTO audit_pending (ts, event_type, actor, thread_id, order_id,
                                   customer_email, payload, seal)
        SELECT now(), e.value->>'event_type', e.value->>'actor', e.value->>'thread_id',
               e.value->>'order_id', e.value->>'customer_email',
               coalesce(e.value->'payload', '{}'::jsonb), ''
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, n)
         ORDER BY e.n
        RETURNING *;
    END;
    $$;
    -- Link up to p_limit committed pending rows (oldest first) into the chain; returns
    -- how many, or -1 when another chainer holds the head and p_wait is false.
    CREATE FUNCTION audit_chain_pending(p_limit integer, p_wait boolean)
    RETURNS integer LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public AS $$
    DECLARE
        moved integer;
    BEGIN
        IF p_wait THEN
            PERFORM 1 FROM audit_chain_head WHERE id FOR UPDATE;
        ELSE
            PERFORM 1 FROM audit_chain_head WHERE id FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN
                RETURN -1;
            END IF;
        END IF;
        PERFORM set_config('audit.chaining', 'on', true);
        WITH taken AS (
            DELETE FROM audit_pending
             WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT p_limit)
            RETURNING *
        )
        INSERT INTO audit_events (seq, ts, event_type, actor, thread_id, order_id,
                                  customer_email, payload, prev_hash, hash,
                                  pending_id, pending_seal, written_at)
        SELECT 0, now(), event_type, actor, thread_id, order_id, customer_email, payload,
               '', '', id, seal, ts
          FROM taken ORDER BY id;
        GET DIAGNOSTICS moved = ROW_COUNT;
        PERFORM set_config('audit.chaining', 'off', true);
        RETURN moved;
    END;
    $$;
    REVOKE ALL ON FUNCTION audit_append_many(jsonb) FROM PUBLIC;
    REVOKE ALL ON FUNCTION audit_chain_pending(integer, boolean) FROM PUBLIC;
    REVOKE ALL ON FUNCTION audit_pending_insert() FROM PUBLIC;
    REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_pending FROM PUBLIC;

    -- Every event, chained (seq set) or waiting for the chainer (seq NULL), with the
    -- time it was written.
    CREATE VIEW audit_log AS
        SELECT seq, coalesce(written_at, ts) AS ts, event_type, actor, thread_id, order_id,
               customer_email, payload, prev_hash, hash, pending_id
          FROM audit_events
        UNION ALL
        SELECT NULL::bigint, ts, event_type, actor, thread_id, order_id, customer_email,
               payload, NULL::text, NULL::text, id
          FROM audit_pending;
    """,
]


async def current_version(conn: Conn) -> int:
    """The highest applied migration version (0 for an empty database)."""
    await conn.execute(CREATE_MIGRATIONS_TABLE)
    cur = await conn.execute("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")
    row = await cur.fetchone()
    return int(row["v"]) if row else 0


async def migrate(conn: Conn, *, app_role: str | None = None) -> list[int]:
    """Apply every migration not yet applied; return the versions applied now.

    With ``app_role`` (``DB_APP_ROLE``), then grant that role what the agent needs
    (:func:`grant_app_role`); the caller must own the tables. Safe to call from several
    processes at once and on every start-up.
    """
    applied: list[int] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_ID,))
        version = await current_version(conn)
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {version} is newer than this code "
                f"({len(MIGRATIONS)}); upgrade the application"
            )
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
            applied.append(number)
            logger.info("applied migration %d", number)
        if app_role:
            await grant_app_role(conn, app_role)
    return applied


APP_TABLES: Final = (
    "customers",
    "orders",
    "refunds",
    "review_tickets",
    "conversations",
    "conversation_requests",
    "rate_limit_hits",
    "conversation_messages",
    "refund_budget_days",
)
"""The tables the agent reads and writes (never deletes from, but rate-limit windows)."""
READ_ONLY_TABLES: Final = (
    "audit_events",
    "audit_chain_head",
    "audit_pending",
    "audit_log",
    "schema_migrations",
)
CHECKPOINT_TABLES: Final = (
    "checkpoint_migrations",
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
)
"""LangGraph's tables, created by ``AsyncPostgresSaver.setup()`` (granted when present)."""


async def grant_app_role(conn: Conn, role: str) -> None:
    """Grant the application role exactly what the agent needs (idempotent).

    Read and write on the agent's tables, read-only on the audit log, ``EXECUTE`` on
    ``audit_append``/``audit_append_many`` (its only ways to append) and
    ``audit_chain_pending``, and the checkpoint tables when they exist.
    Nothing is owned, so the role cannot disable the audit triggers or alter tables.
    """
    cur = await conn.execute("SELECT current_user = %s AS same", (role,))
    row = await cur.fetchone()
    if row is not None and row["same"]:
        return  # the application itself applied the migrations: it owns what it uses
    role_id = sql.Identifier(role)

    def tables(names: tuple[str, ...]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(n) for n in names)

    statements = [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role_id),
        sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(tables(APP_TABLES), role_id),
        sql.SQL("GRANT DELETE ON rate_limit_hits TO {}").format(role_id),
        sql.SQL("GRANT SELECT ON {} TO {}").format(tables(READ_ONLY_TABLES), role_id),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(role_id),
        sql.SQL(
            "GRANT EXECUTE ON FUNCTION audit_append(text, text, text, text, text, jsonb),"
            " audit_append_many(jsonb), audit_chain_pending(integer, boolean) TO {}"
        ).format(role_id),
    ]
    cur = await conn.execute(
        "SELECT array_agg(relname::text) AS names FROM pg_class "
        "WHERE relnamespace = 'public'::regnamespace AND relname = ANY(%s)",
        (list(CHECKPOINT_TABLES),),
    )
    row = await cur.fetchone()
    present = tuple(row["names"] or ()) if row else ()
    if present:
        statements.append(
            sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                tables(present), role_id
            )
        )
    async with conn.transaction():
        for statement in statements:
            await conn.execute(statement)
    logger.info("granted the application role %s its privileges", role)
