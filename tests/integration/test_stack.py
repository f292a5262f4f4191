"""Each server of the local stack works from Python through common.connections."""

from __future__ import annotations

import threading
import uuid

import pytest
from cassandra.cluster import Session
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from common import connections
from common.config import Settings

pytestmark = pytest.mark.integration


def test_ferretdb_stores_documents_and_enforces_a_unique_index(
    mongo_database: Database[dict[str, object]],
) -> None:
    users = mongo_database[f"users_{uuid.uuid4().hex[:8]}"]
    users.create_index("email", unique=True)
    email = f"{uuid.uuid4().hex}@example.com"

    inserted = users.insert_one({"email": email, "name": "Ada"})
    with pytest.raises(DuplicateKeyError):
        users.insert_one({"email": email, "name": "Someone else"})

    found = users.find_one({"_id": inserted.inserted_id})
    assert found is not None
    assert found["name"] == "Ada"
    assert users.count_documents({"email": email}) == 1


def test_postgres_row_lock_makes_a_second_transaction_wait(
    settings: Settings, postgres_database: str
) -> None:
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    with connections.connect_postgres(settings, postgres_database) as setup:
        setup.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, balance numeric)")
        setup.execute(f"INSERT INTO {table} VALUES (1, 100)")

    holder = connections.connect_postgres(settings, postgres_database)
    waiter = connections.connect_postgres(settings, postgres_database)
    holder.execute(f"SELECT balance FROM {table} WHERE id = 1 FOR UPDATE")

    second_done = threading.Event()

    def debit_in_second_transaction() -> None:
        with waiter.transaction():
            waiter.execute(f"UPDATE {table} SET balance = balance - 30 WHERE id = 1")
        second_done.set()

    worker = threading.Thread(target=debit_in_second_transaction)
    worker.start()
    # While the first transaction holds the row, the second cannot commit.
    assert not second_done.wait(timeout=1.0)
    holder.execute(f"UPDATE {table} SET balance = balance - 50 WHERE id = 1")
    holder.commit()
    worker.join(timeout=10)

    assert second_done.is_set()
    row = holder.execute(f"SELECT balance FROM {table} WHERE id = 1").fetchone()
    assert row is not None
    assert row[0] == 20
    holder.close()
    waiter.close()


def test_cassandra_prepared_statements_round_trip(
    cassandra_keyspace: tuple[Session, str],
) -> None:
    session, keyspace = cassandra_keyspace
    table = f"{keyspace}.jobs_{uuid.uuid4().hex[:8]}"
    session.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, title text)")
    insert = session.prepare(f"INSERT INTO {table} (id, title) VALUES (?, ?)")
    select = session.prepare(f"SELECT title FROM {table} WHERE id = ?")
    job_id = uuid.uuid4()

    session.execute(insert, (job_id, "Build a website"))
    row = session.execute(select, (job_id,)).one()

    assert row.title == "Build a website"
    assert session.execute(select, (uuid.uuid4(),)).one() is None


def test_redis_sets_and_expires_keys(settings: Settings) -> None:
    client = connections.connect_redis(settings)
    key = f"test:{uuid.uuid4().hex}"

    client.set(key, "cached", ex=60)

    assert client.get(key) == b"cached"
    assert 0 < client.ttl(key) <= 60
    client.delete(key)
    assert client.get(key) is None
    client.close()


def test_rabbitmq_confirms_a_publish_and_delivers_it_once_acked(
    settings: Settings,
) -> None:
    connection = connections.connect_amqp(settings)
    channel = connection.channel()
    channel.confirm_delivery()
    queue = f"test.{uuid.uuid4().hex}"
    channel.queue_declare(queue=queue, auto_delete=True)

    # With confirms on, basic_publish returns only once the broker has the
    # message, and raises if it could not be routed (mandatory).
    channel.basic_publish(exchange="", routing_key=queue, body=b"hello", mandatory=True)

    method, _properties, body = channel.basic_get(queue=queue, auto_ack=False)
    assert body == b"hello"
    channel.basic_ack(method.delivery_tag)
    assert channel.queue_declare(queue=queue, passive=True).method.message_count == 0
    connection.close()
