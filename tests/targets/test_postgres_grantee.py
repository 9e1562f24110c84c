"""A grantee attacks the PostgreSQL target from a real psql-like session (issue 8, items 9, 10).

Each test gives a login a role through the target, lets the login do what an attacker holding
that role would do, and shows that the revocation still takes the access away, ends the
sessions, and says plainly what it did not believe or could not undo.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from engine.targets.base import Assignment, TargetError
from engine.targets.postgres import PostgresTarget
from tests.targets.pg import Conn, PgServer, assignment, create_role, is_member

TERMINATED = "terminating connection due to administrator command"


def target(dsn_env: str) -> PostgresTarget:
    return PostgresTarget({"provider": "postgres", "dsn_env": dsn_env})


def set_role(session: Conn, role: str) -> None:
    session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def current_user(session: Conn) -> object:
    row = session.execute("SELECT current_user").fetchone()
    return row[0] if row else None


def assert_terminated(session: Conn) -> None:
    """The attacker's next statement fails, and PostgreSQL says why."""
    with pytest.raises(psycopg.OperationalError, match=TERMINATED):
        session.execute("SELECT current_user")


def record(admin: Conn, a: Assignment) -> tuple[object, ...] | None:
    return admin.execute("SELECT held_before, revoked_at IS NOT NULL FROM gitjit.managed"
                         " WHERE grant_id = %s", [a.grant_id]).fetchone()


def activated_after(admin: Conn, login: str) -> datetime:
    """An activation time just after the login's newest session started (the merge came later)."""
    row = admin.execute("SELECT max(backend_start) FROM pg_stat_activity WHERE usename = %s",
                        [login]).fetchone()
    assert row is not None and isinstance(row[0], datetime)
    return row[0] + timedelta(milliseconds=1)


def people(admin: Conn, uniq: str, *, role_options: str = "NOLOGIN") -> tuple[str, str]:
    login, role = f"mallory-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    admin.execute(sql.SQL("CREATE ROLE {} " + role_options).format(sql.Identifier(role)))
    return login, role


# -- item 9: sessions outlive revocation ---------------------------------------------------

@pytest.mark.parametrize("dbname", ["postgres", "other"])
def test_a_session_opened_before_the_grant_cannot_keep_the_role_after_revocation(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str, dbname: str) -> None:
    # The attack: open a session before the merge (in any database of the cluster), wait for
    # the GRANT, SET ROLE, and keep the role after the REVOKE for as long as the session lives.
    login, role = people(admin, uniq)
    db = f"{dbname}_{uniq}" if dbname != "postgres" else dbname
    if db != "postgres":
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    try:
        with psycopg.connect(pg_server.dsn(login, dbname=db), autocommit=True) as early:
            a = assignment(login, role, dsn_env, activated=activated_after(admin, login))
            target(dsn_env).apply(a)
            set_role(early, role)
            assert current_user(early) == role

            target(dsn_env).revoke(a)

            assert_terminated(early)
    finally:
        if db != "postgres":
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
    assert not is_member(admin, login, role)


def test_since_activation_ends_earlier_sessions_when_the_grant_starts(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq)
    with pg_server.connect(login) as early:
        a = assignment(login, role, dsn_env, activated=activated_after(admin, login),
                       terminate_sessions="since-activation")
        target(dsn_env).apply(a)

        # Ended right after the GRANT, before it could switch to the role.
        assert_terminated(early)
    with pg_server.connect(login) as during:
        set_role(during, role)

        target(dsn_env).revoke(a)

        assert_terminated(during)


def test_a_repeated_revocation_spares_sessions_opened_after_the_first(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    # reconcile repeats revoke until it can record the end; a session opened after the REVOKE
    # committed never had the role, so a repeat must not end it.
    login, role = people(admin, uniq)
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    target(dsn_env).revoke(a)
    with pg_server.connect(login) as later:
        target(dsn_env).revoke(a)

        assert current_user(later) == login
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            set_role(later, role)


# -- item 10: bookkeeping within the grantee's reach ---------------------------------------

def test_a_superuser_grantee_who_marks_their_record_held_before_is_revoked_anyway(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq, role_options="SUPERUSER NOLOGIN")
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    with pg_server.connect(login) as attacker:
        set_role(attacker, role)
        attacker.execute("UPDATE gitjit.managed SET held_before = true WHERE login = %s",
                         [login])

        with pytest.raises(TargetError) as err:
            target(dsn_env).revoke(a)

        assert_terminated(attacker)
    assert str(err.value) == (
        f"postgres target: grant {a.grant_id}: gitjit's record of this grant was not believed, "
        f"because '{role}' has SUPERUSER (anyone who can do that could have rewritten "
        f"gitjit.managed): it says the login held '{role}' before the grant, so it would have "
        f"been left in place; gitjit revoked it; if the login is meant to hold it, grant it "
        f"again by hand")
    assert not is_member(admin, login, role)
    # The record now says what gitjit did, so the next reconcile records the end.
    assert record(admin, a) == (False, True)
    target(dsn_env).revoke(a)


def test_a_superuser_grantee_who_deletes_their_record_is_revoked_anyway(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq, role_options="SUPERUSER NOLOGIN")
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    with pg_server.connect(login) as attacker:
        set_role(attacker, role)
        attacker.execute("DELETE FROM gitjit.managed WHERE login = %s", [login])

        with pytest.raises(TargetError) as err:
            target(dsn_env).revoke(a)

    assert "it holds no record of giving" in str(err.value)
    assert not is_member(admin, login, role)


def test_a_superuser_grantee_who_drops_their_own_membership_early_loses_the_session(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    # With the membership already gone, there is nothing to REVOKE; the session that switched
    # to the role must end all the same.
    login, role = people(admin, uniq, role_options="SUPERUSER NOLOGIN")
    with pg_server.connect(login) as attacker:
        a = assignment(login, role, dsn_env, activated=activated_after(admin, login))
        target(dsn_env).apply(a)
        set_role(attacker, role)
        attacker.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role),
                                                             sql.Identifier(login)))

        target(dsn_env).revoke(a)

        assert_terminated(attacker)


def test_a_superuser_grantee_who_makes_their_login_a_superuser_is_reported(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq, role_options="SUPERUSER NOLOGIN")
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    with pg_server.connect(login) as attacker:
        set_role(attacker, role)
        attacker.execute(sql.SQL("ALTER ROLE {} SUPERUSER").format(sql.Identifier(login)))

    with pytest.raises(TargetError) as err:
        target(dsn_env).revoke(a)

    assert str(err.value) == (
        f"postgres target: grant {a.grant_id}: after the revocation '{login}' is itself a "
        f"superuser, which holds every role: gitjit does not take away memberships it did not "
        f"give, so remove it by hand (REVOKE ... FROM {login}) and run reconcile again; until "
        f"then this grant is not recorded as ended")
    assert admin.execute(sql.SQL("SELECT 1 FROM pg_auth_members WHERE member = {}::regrole")
                         .format(sql.Literal(login))).fetchall() == []
    # Until a person fixes it, every retry says so again.
    with pytest.raises(TargetError):
        target(dsn_env).revoke(a)
    admin.execute(sql.SQL("ALTER ROLE {} NOSUPERUSER").format(sql.Identifier(login)))
    target(dsn_env).revoke(a)


def test_a_createrole_grantee_who_keeps_the_role_through_a_side_role_is_reported(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq, role_options="CREATEROLE NOLOGIN")
    side = f"side_{uniq}"
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    with pg_server.connect(login) as attacker:
        set_role(attacker, role)
        attacker.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(side)))
        attacker.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role),
                                                          sql.Identifier(side)))
        attacker.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(side),
                                                          sql.Identifier(login)))

        with pytest.raises(TargetError) as err:
            target(dsn_env).revoke(a)

        assert_terminated(attacker)
    assert str(err.value) == (
        f"postgres target: grant {a.grant_id}: after the revocation '{login}' still holds "
        f"'{role}' through '{side}': gitjit does not take away memberships it did not give, "
        f"so remove it by hand (REVOKE ... FROM {login}) and run reconcile again; until then "
        f"this grant is not recorded as ended")
    admin.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(side),
                                                      sql.Identifier(login)))
    target(dsn_env).revoke(a)


def test_a_grantee_who_can_write_all_data_cannot_keep_the_role_by_editing_the_record(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    # Not a superuser: pg_write_all_data is enough to write gitjit.managed.
    login, role = people(admin, uniq, role_options="NOLOGIN IN ROLE pg_write_all_data")
    a = assignment(login, role, dsn_env)
    target(dsn_env).apply(a)
    with pg_server.connect(login) as attacker:
        set_role(attacker, role)
        # Writing needs no SELECT as long as the statement reads no column.
        attacker.execute("UPDATE gitjit.managed SET held_before = true")

    with pytest.raises(TargetError) as err:
        target(dsn_env).revoke(a)

    assert f"because '{role}' can become pg_write_all_data (anyone who" in str(err.value)
    assert not is_member(admin, login, role)


def test_bookkeeping_that_others_can_write_is_refused_before_granting(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = people(admin, uniq)
    first = assignment(login, role, dsn_env, grant=f"prod-db-admin/{login}-20261130T1030Z")
    target(dsn_env).apply(first)
    admin.execute(sql.SQL("GRANT USAGE ON SCHEMA gitjit TO {r};"
                          " GRANT UPDATE (held_before) ON gitjit.managed TO {r}")
                  .format(r=sql.Identifier(role)))
    try:
        second = assignment(login, role, dsn_env,
                            grant=f"prod-db-admin/{login}-20261130T1130Z")
        with pytest.raises(TargetError) as err:
            target(dsn_env).apply(second)
        assert str(err.value) == (
            f"postgres target: will not grant anything: gitjit's records in gitjit.managed "
            f"could have been written by someone else (gitjit.managed is shared with "
            f"'{role}'); a grantee able to write them could keep access after revocation. "
            f"Give the schema and table to gitjit's database user alone (ALTER SCHEMA gitjit "
            f"OWNER TO ...; ALTER TABLE gitjit.managed OWNER TO ...; REVOKE ALL ON "
            f"gitjit.managed FROM ...)")

        # The grant already given is still taken away, the record not believed.
        with pg_server.connect(login) as attacker:
            set_role(attacker, role)
            attacker.execute("UPDATE gitjit.managed SET held_before = true")
        with pytest.raises(TargetError) as revoked:
            target(dsn_env).revoke(first)
        assert "because gitjit.managed is shared with" in str(revoked.value)
        assert not is_member(admin, login, role)
    finally:
        admin.execute(sql.SQL("REVOKE ALL ON gitjit.managed FROM {r};"
                              " REVOKE ALL ON SCHEMA gitjit FROM {r}")
                      .format(r=sql.Identifier(role)))


def test_bookkeeping_prepared_by_someone_else_is_refused(
        pg_server: PgServer, admin: Conn, monkeypatch: pytest.MonkeyPatch, uniq: str) -> None:
    # The attack: before gitjit's first grant, someone with CREATE on the database creates the
    # gitjit schema and table themselves, so they can later rewrite what gitjit reads.
    db, mallory = f"prepared_{uniq}", f"prepper_{uniq}"
    create_role(admin, mallory, login=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(db),
                                                                      sql.Identifier(mallory)))
    try:
        with psycopg.connect(pg_server.dsn(mallory, dbname=db), autocommit=True) as prep:
            prep.execute("CREATE SCHEMA gitjit")
            prep.execute("CREATE TABLE gitjit.managed (grant_id text PRIMARY KEY, mode text,"
                          " login text, member text, role text, held_before boolean,"
                          " activated_at timestamptz, expires_at timestamptz,"
                          " applied_at timestamptz DEFAULT now(), revoked_at timestamptz)")
            prep.execute("GRANT ALL ON SCHEMA gitjit TO PUBLIC")
            prep.execute("GRANT ALL ON gitjit.managed TO PUBLIC")
        monkeypatch.setenv("PREPARED_DSN", pg_server.dsn(dbname=db))
        login, role = people(admin, uniq)

        with pytest.raises(TargetError) as err:
            target("PREPARED_DSN").apply(assignment(login, role, "PREPARED_DSN"))

        assert (f"(schema gitjit is owned by '{mallory}', not by gitjit's database user; "
                f"gitjit.managed is owned by '{mallory}', not by gitjit's database user; "
                f"gitjit.managed is shared with 'PUBLIC')") in str(err.value)
        assert not is_member(admin, login, role)
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
