"""The PostgreSQL target against a real server (started by conftest.pg_server)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from engine.targets.base import Assignment, TargetError
from engine.targets.postgres import PostgresTarget, login_role_name
from engine.targets.registry import CheckedTarget, create_target
from tests.targets.pg import Conn, PgServer, assignment, create_role, is_alive, is_member


def target(dsn_env: str) -> PostgresTarget:
    return PostgresTarget({"provider": "postgres", "dsn_env": dsn_env})


def managed_rows(admin: Conn, grant_id: str) -> list[tuple[object, ...]]:
    return admin.execute("SELECT member, role, held_before, revoked_at IS NOT NULL"
                         " FROM gitjit.managed WHERE grant_id = %s", [grant_id]).fetchall()


# -- membership mode ----------------------------------------------------------------------

def test_membership_apply_lets_the_login_set_role_and_revoke_ends_it_and_its_session(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = f"alice-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    a = assignment(login, role, dsn_env)
    t = target(dsn_env)

    t.apply(a)

    with pg_server.connect(login) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        assert session.execute("SELECT current_user").fetchone() == (role,)
        assert managed_rows(admin, a.grant_id) == [(login, role, False, False)]

        t.revoke(a)

        assert not is_alive(session)
    assert not is_member(admin, login, role)
    assert managed_rows(admin, a.grant_id) == [(login, role, False, True)]
    with pg_server.connect(login) as after, pytest.raises(psycopg.errors.InsufficientPrivilege):
        after.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))


def test_membership_is_idempotent(admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = f"carol-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    a = assignment(login, role, dsn_env)
    t = target(dsn_env)

    t.apply(a)
    t.apply(a)
    assert is_member(admin, login, role)
    assert len(managed_rows(admin, a.grant_id)) == 1

    t.revoke(a)
    t.revoke(a)
    assert not is_member(admin, login, role)


def test_revoking_a_never_applied_grant_does_nothing(admin: Conn, dsn_env: str,
                                                      uniq: str) -> None:
    login, role = f"dave-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(login)))

    target(dsn_env).revoke(assignment(login, role, dsn_env))

    assert is_member(admin, login, role)


def test_a_membership_held_before_the_grant_survives_its_revocation(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = f"erin-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(login)))
    a = assignment(login, role, dsn_env)

    target(dsn_env).apply(a)
    target(dsn_env).revoke(a)

    assert is_member(admin, login, role)
    assert managed_rows(admin, a.grant_id) == [(login, role, True, True)]


def test_overlapping_grants_keep_the_membership_until_the_last_one_ends(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = f"frank-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    first = assignment(login, role, dsn_env, grant=f"prod-db-admin/{login}-20261130T1030Z")
    second = assignment(login, role, dsn_env, grant=f"prod-db-admin/{login}-20261130T1130Z")
    t = target(dsn_env)
    t.apply(first)
    t.apply(second)

    t.revoke(first)
    assert is_member(admin, login, role)

    t.revoke(second)
    assert not is_member(admin, login, role)


def test_a_policy_whose_role_changes_mid_grant_does_not_add_a_second_role(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role, other = f"gus-{uniq}", f"orders_admin_{uniq}", f"orders_reader_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    create_role(admin, other)
    target(dsn_env).apply(assignment(login, role, dsn_env))
    changed = assignment(login, other, dsn_env)

    with pytest.raises(TargetError) as err:
        target(dsn_env).apply(changed)

    assert str(err.value) == (
        f"postgres target: grant {changed.grant_id} was applied as '{role}' for '{login}', but "
        f"its policy now gives '{other}' to '{login}'; gitjit keeps what it gave until the "
        f"grant ends (revocation takes back what was recorded), so it will not add a second "
        f"role now")
    assert not is_member(admin, login, other)
    target(dsn_env).revoke(changed)  # takes back what was given, as recorded
    assert not is_member(admin, login, role)


def test_membership_for_a_login_without_a_role_says_how_to_fix_it(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    role = f"orders_admin_{uniq}"
    create_role(admin, role)

    with pytest.raises(TargetError) as err:
        target(dsn_env).apply(assignment(f"ghost-{uniq}", role, dsn_env))

    assert str(err.value) == (
        f"postgres target: the requester's role 'ghost-{uniq}' does not exist in the database; "
        f"create a login role named 'ghost-{uniq}' for them first (gitjit grants membership, "
        f"it does not create people), or use mode: login-role")


def test_a_missing_granted_role_names_the_policy(admin: Conn, dsn_env: str, uniq: str) -> None:
    create_role(admin, f"gina-{uniq}", login=True)

    with pytest.raises(TargetError) as err:
        target(dsn_env).apply(assignment(f"gina-{uniq}", f"nope_{uniq}", dsn_env))

    assert str(err.value) == (
        f"postgres target: the granted role 'nope_{uniq}' does not exist in the database; "
        f"create it, or fix 'role' in policy prod-db-admin")


# -- login-role mode ----------------------------------------------------------------------

def test_login_role_is_created_valid_until_expiry_and_dropped_with_its_sessions(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    role = f"orders_admin_{uniq}"
    create_role(admin, role)
    login = f"hana-{uniq}"
    a = assignment(login, role, dsn_env, mode="login-role")
    name = login_role_name(a.grant_id, login)
    t = target(dsn_env)
    assert t.native_expiry(a) is False  # VALID UNTIL does not bind passwordless logins

    t.apply(a)

    row = admin.execute("SELECT rolcanlogin, rolvaliduntil, rolpassword IS NULL,"
                        " shobj_description(oid, 'pg_authid') FROM pg_authid"
                        " WHERE rolname = %s", [name]).fetchone()
    assert row == (True, a.expires_at, True, f"gitjit grant {a.grant_id}")
    with pg_server.connect(name) as session:
        session.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))

        t.revoke(a)

        assert not is_alive(session)
    assert admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is None
    with pytest.raises(psycopg.OperationalError):
        pg_server.connect(name)
    assert managed_rows(admin, a.grant_id) == [(name, role, False, True)]


def test_login_role_keeps_objects_it_created_by_handing_them_to_the_granted_role(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str) -> None:
    role = f"orders_admin_{uniq}"
    create_role(admin, role)
    admin.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(sql.Identifier(role)))
    a = assignment(f"ivan-{uniq}", role, dsn_env, mode="login-role")
    name = login_role_name(a.grant_id, a.login)
    target(dsn_env).apply(a)
    with pg_server.connect(name) as session:
        session.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(f"w_{uniq}")))

    target(dsn_env).revoke(a)

    owner = admin.execute("SELECT tableowner FROM pg_tables WHERE tablename = %s",
                          [f"w_{uniq}"]).fetchone()
    assert owner == (role,)


def test_login_role_is_idempotent(admin: Conn, dsn_env: str, uniq: str) -> None:
    role = f"orders_admin_{uniq}"
    create_role(admin, role)
    a = assignment(f"jon-{uniq}", role, dsn_env, mode="login-role")
    name = login_role_name(a.grant_id, a.login)
    t = target(dsn_env)

    t.apply(a)
    t.apply(a)
    assert is_member(admin, name, role)

    t.revoke(a)
    t.revoke(a)
    assert admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone() is None


def test_login_role_names_are_unique_per_grant_and_fit_postgres() -> None:
    first = login_role_name("prod-db-admin/alice-20261130T1030Z", "alice")
    other_policy = login_role_name("break-glass-prod/alice-20261130T1030Z", "alice")
    longest = login_role_name("p/" + "a" * 39 + "-20261130T1030Z", "a" * 39)

    assert first.startswith("gitjit_alice_") and len(first) == len("gitjit_alice_") + 10
    assert first != other_policy
    assert len(longest.encode()) <= 63


# -- listing ------------------------------------------------------------------------------

def test_list_managed_reports_live_assignments_with_their_grants(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    role = f"orders_admin_{uniq}"
    create_role(admin, role)
    create_role(admin, f"kim-{uniq}", login=True)
    member = assignment(f"kim-{uniq}", role, dsn_env)
    per_grant = assignment(f"lea-{uniq}", role, dsn_env, mode="login-role")
    name = login_role_name(per_grant.grant_id, per_grant.login)
    t = target(dsn_env)
    t.apply(member)
    t.apply(per_grant)

    def ours() -> dict[object, tuple[object, ...]]:
        return {m.grant_id: (m.principal, m.privilege, m.expires_at)
                for m in t.list_managed() if m.privilege == role}

    assert ours() == {
        member.grant_id: (f"kim-{uniq}", role, None),
        per_grant.grant_id: (name, role, per_grant.expires_at),
    }

    # Without its bookkeeping row, a per-grant role is still found through its comment.
    admin.execute("DELETE FROM gitjit.managed WHERE grant_id = %s", [per_grant.grant_id])
    assert ours()[per_grant.grant_id] == (name, role, per_grant.expires_at)

    t.revoke(member)
    t.revoke(per_grant)
    assert ours() == {}


def test_list_managed_works_before_anything_was_applied(pg_server: PgServer,
                                                        admin: Conn) -> None:
    admin.execute("CREATE DATABASE empty_for_listing")
    try:
        managed = PostgresTarget({"provider": "postgres",
                                  "host": pg_server.socket_dir, "port": str(pg_server.port),
                                  "dbname": "empty_for_listing", "user": "postgres"})
        assert [m for m in managed.list_managed() if m.grant_id is None] == []
    finally:
        admin.execute("DROP DATABASE empty_for_listing")


# -- settings and errors ------------------------------------------------------------------

def test_native_expiry_is_job_enforced_for_membership(dsn_env: str) -> None:
    assert target(dsn_env).native_expiry(assignment("alice", "r", dsn_env)) is False


def test_an_unset_dsn_env_is_named_but_no_value_is_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORDERS_PROD_DSN", raising=False)
    a = assignment("alice", "orders_admin", "ORDERS_PROD_DSN")

    with pytest.raises(TargetError) as err:
        target("ORDERS_PROD_DSN").apply(a)

    assert str(err.value) == (
        "postgres target: environment variable ORDERS_PROD_DSN (named by dsn_env) is not set; "
        "set it to the database's connection string")


def test_a_bad_connection_string_never_leaks_its_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_PROD_DSN", "host=/nowhere password=s3cr3t-value bogus")

    with pytest.raises(TargetError) as err:
        target("ORDERS_PROD_DSN").apply(assignment("alice", "orders_admin", "ORDERS_PROD_DSN"))

    assert "s3cr3t" not in str(err.value)
    assert str(err.value) == (
        "postgres target: connection string from $ORDERS_PROD_DSN is not a valid PostgreSQL "
        "connection string (use 'host=... dbname=... user=...' or a postgresql:// URI)")


def test_a_refused_connection_never_leaks_its_password(
        pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_PROD_DSN",
                       f"host={pg_server.socket_dir} port={pg_server.port} user=no_such_user "
                       f"password=s3cr3t-value dbname=postgres")

    with pytest.raises(TargetError) as err:
        target("ORDERS_PROD_DSN").list_managed()

    message = str(err.value)
    assert "s3cr3t" not in message
    assert message.startswith("postgres target: cannot connect (connection string from "
                              "$ORDERS_PROD_DSN): ")
    assert 'role "no_such_user" does not exist' in message


def test_a_short_password_is_not_revealed_by_where_the_redaction_lands(
        pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attack: the connection's password is a word the server's error message holds (here
    the database's name, "orders"). Cutting the password out of the message left 'database
    "***" does not exist', and anyone who knows PostgreSQL's messages read the password off the
    gap. A message that holds a secret anywhere is withheld whole."""
    monkeypatch.setenv("ORDERS_PROD_PASSWORD", "orders")
    t = PostgresTarget({"provider": "postgres", "host": pg_server.socket_dir,
                        "port": str(pg_server.port), "user": "postgres", "dbname": "orders",
                        "password_env": "ORDERS_PROD_PASSWORD"})

    with pytest.raises(TargetError) as err:
        t.list_managed()

    message = str(err.value)
    assert "orders" not in message.replace("dbname=orders", "")
    assert "does not exist" not in message and "***" not in message
    assert message == (
        f"postgres target: cannot connect (host={pg_server.socket_dir} dbname=orders): (the "
        "server's message is withheld: it contains the connection's password or connection "
        "string)")


def test_an_unknown_mode_lists_the_modes(dsn_env: str) -> None:
    a = assignment("alice", "orders_admin", dsn_env, mode="sudo")

    with pytest.raises(TargetError) as err:
        target(dsn_env).apply(a)

    assert str(err.value) == ("postgres target: unknown mode 'sudo' in policy prod-db-admin; "
                              "use one of: membership, login-role")


def test_a_bad_terminate_sessions_fails_apply_but_never_stops_a_revocation(
        admin: Conn, dsn_env: str, uniq: str) -> None:
    login, role = f"hal-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    bad = assignment(login, role, dsn_env, terminate_sessions="sometimes")

    with pytest.raises(TargetError) as err:
        target(dsn_env).apply(bad)
    assert str(err.value) == ("postgres target: unknown terminate_sessions 'sometimes' in policy "
                              "prod-db-admin; use one of: all, since-activation")

    target(dsn_env).apply(assignment(login, role, dsn_env))
    target(dsn_env).revoke(bad)
    assert not is_member(admin, login, role)


def test_the_registry_builds_the_postgres_target(dsn_env: str) -> None:
    plugin = create_target({"provider": "postgres", "dsn_env": dsn_env})
    assert isinstance(plugin, CheckedTarget) and isinstance(plugin.plugin, PostgresTarget)


@pytest.mark.parametrize("mode", ["membership", "login-role"])
def test_hostile_login_and_role_names_are_quoted_harmlessly(
        pg_server: PgServer, admin: Conn, dsn_env: str, uniq: str, mode: str) -> None:
    admin.execute(f"CREATE TABLE victim_{uniq} (x int)")
    login = f'x{uniq}"; DROP TABLE victim_{uniq}; --'
    role = f"r{uniq}'); DROP TABLE victim_{uniq}; --\""
    create_role(admin, login, login=True)
    create_role(admin, role)
    a: Assignment = assignment(login, role, dsn_env, mode=mode)
    member = login if mode == "membership" else login_role_name(a.grant_id, login)

    target(dsn_env).apply(a)
    assert is_member(admin, member, role)
    target(dsn_env).revoke(a)

    assert not is_member(admin, login, role)
    assert admin.execute("SELECT to_regclass(%s)", [f"victim_{uniq}"]).fetchone() == (
        f"victim_{uniq}",)


@pytest.mark.parametrize("mode", ["membership", "login-role"])
def test_the_documented_minimal_privileges_are_enough(
        pg_server: PgServer, admin: Conn, monkeypatch: pytest.MonkeyPatch, uniq: str,
        mode: str) -> None:
    # docs/targets/postgres.md: CREATEROLE, pg_signal_backend and CREATE on the database (for the
    # gitjit schema); no superuser. The dedicated database starts without the gitjit schema.
    service, db = f"gitjit_service_{uniq}", f"minpriv_{uniq}"
    admin.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE IN ROLE pg_signal_backend")
                  .format(sql.Identifier(service)))
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
    admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}")
                  .format(sql.Identifier(db), sql.Identifier(service)))
    monkeypatch.setenv("SERVICE_DSN", pg_server.dsn(service, dbname=db))
    login, role = f"uma-{uniq}", f"orders_admin_{uniq}"
    create_role(admin, login, login=True)
    create_role(admin, role)
    a = assignment(login, role, "SERVICE_DSN", mode=mode)
    t = target("SERVICE_DSN")
    try:
        t.apply(a)
        holder = login if mode == "membership" else login_role_name(a.grant_id, login)
        assert [m.grant_id for m in t.list_managed()] == [a.grant_id]
        with psycopg.connect(pg_server.dsn(holder, dbname=db), autocommit=True) as session:
            t.revoke(a)
            assert not is_alive(session)
        still = admin.execute("SELECT pg_has_role(oid, %s, 'MEMBER') FROM pg_roles"
                              " WHERE rolname = %s", [role, holder]).fetchall()
        assert still == ([(False,)] if mode == "membership" else [])
        assert t.list_managed() == []
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
